"""Payment gateways behind the ``Gateway`` interface of ``services.mall.gateway``.

``sandbox`` is the stand-in gateway that needs no account anywhere (development only);
``sandbox_page`` draws its payment page; ``delivery`` posts its signed events to a configured
URL. Alipay or WeChat Pay plug in here as further gateways.
"""
