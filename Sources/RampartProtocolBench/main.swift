import KafkaProtocol
print("todo")
