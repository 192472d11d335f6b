"""The storefront's tables and queries: product images, categories, banners and search."""
