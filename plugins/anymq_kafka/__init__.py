"""The kafka backend of anymq (Apache Kafka through aiokafka: partitions, groups, replay)."""
