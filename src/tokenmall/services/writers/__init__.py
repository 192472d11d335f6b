"""The writer threads: group commit of a tenant's ledger commands (``tenant``, routed by
``pool``, reached across processes through the inbox: ``remote``), of the API's units of work
(``units``), and the batching base they share (``batching``)."""
