"""The NATS JetStream backend (``nats://``), written against anymq's public plugin interface."""
