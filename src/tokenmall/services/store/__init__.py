"""The storefront's use cases: product images, categories and search, banners, share posters."""
