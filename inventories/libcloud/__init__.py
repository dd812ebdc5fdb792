"""Clouds reached through apache-libcloud: OpenStack, S3-compatible stores, Aliyun, Outscale."""
