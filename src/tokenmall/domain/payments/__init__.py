"""Rules about money that moves through payment channels: reconciliation of a channel's bill."""
