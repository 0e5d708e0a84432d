import KafkaProtocolCodegen
print("todo")
