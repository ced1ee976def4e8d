"""The rabbitmq backend of anymq (RabbitMQ through aio-pika: exchanges, queues, streams)."""
