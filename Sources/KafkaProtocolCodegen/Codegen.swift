public enum KafkaProtocolCodegen {}
