"""The sqs backend of anymq (Amazon SQS (+SNS fan-out) through aiobotocore)."""
