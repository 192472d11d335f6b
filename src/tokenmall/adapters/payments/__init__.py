"""Payment gateways behind the ``Gateway`` interface of ``services.mall.gateway``.

``sandbox`` is the stand-in gateway that needs no account anywhere (development only);
``sandbox_page`` draws its payment page; ``delivery`` posts its signed events to a configured
URL. ``alipay_gateway`` is Alipay (its config, notifies, payouts and trade bill in the other
``alipay_*`` modules).
"""
