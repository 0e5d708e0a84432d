import KafkaClient
import Testing

@Suite struct JavaPropertiesTests {
    @Test func parsesSeparatorsCommentsAndContinuations() throws {
        let text = """
            # a comment
            ! another comment
            security.protocol=PLAINTEXT
            client.id : my-client
            request.timeout.ms 5000
              bootstrap.servers = a:1,\\
                b:2
            sasl.jaas.config=tab\\there \\u0041 \\=x
            empty=
            """
        let properties = try JavaProperties.parse(text, source: "test.properties")
        #expect(properties["security.protocol"] == "PLAINTEXT")
        #expect(properties["client.id"] == "my-client")
        #expect(properties["request.timeout.ms"] == "5000")
        #expect(properties["bootstrap.servers"] == "a:1,b:2")
        #expect(properties["sasl.jaas.config"] == "tab\there A =x")
        #expect(properties["empty"] == "")
        #expect(properties.count == 6)
    }

    @Test func duplicateKeyIsAnErrorNamingIt() {
        #expect(throws: KafkaClientError.self) { try JavaProperties.parse("a=1\na=2\n") }
        do {
            _ = try JavaProperties.parse("client.id=1\nclient.id=2\n", source: "f")
        } catch {
            #expect("\(error)".contains("client.id"))
        }
    }

    @Test func windowsLineEndings() throws {
        let properties = try JavaProperties.parse("client.id=x\r\nretries=3\r\n")
        #expect(properties == ["client.id": "x", "retries": "3"])
    }
}

@Suite struct ClientConfigTests {
    @Test func readsKnownKeys() throws {
        let config = try ClientConfig(properties: [
            "security.protocol": "plaintext", "client.id": "tool", "request.timeout.ms": "1234",
            "bootstrap.servers": "h1:9092,[::1]:9093", "retries": "2",
        ])
        #expect(config.securityProtocol == .plaintext)
        #expect(config.clientId == "tool")
        #expect(config.requestTimeoutMs == 1234)
        #expect(config.retries == 2)
        #expect(config.bootstrapServers == [BrokerAddress(host: "h1", port: 9092), BrokerAddress(host: "::1", port: 9093)])
    }

    @Test func unknownKeyIsAnErrorNamingTheKey() {
        do {
            _ = try ClientConfig(properties: ["client.id": "x", "request.timeout.msx": "1"])
            Issue.record("expected an error")
        } catch {
            #expect("\(error)" == "unknown client property 'request.timeout.msx'")
        }
    }

    @Test(arguments: ["SASL_PLAINTEXT", "SASL_SSL", "sasl_ssl"])
    func saslProtocolsAreRead(_ name: String) throws {
        let config = try ClientConfig(properties: ["security.protocol": name])
        #expect(config.securityProtocol.usesSASL)
        #expect(config.securityProtocol.usesTLS == name.uppercased().hasSuffix("SSL"))
    }

    @Test func badValuesNameTheKey() {
        for (key, value) in [("request.timeout.ms", "soon"), ("retries", "-1"), ("security.protocol", "TLS"),
                             ("bootstrap.servers", "nohost")] {
            do {
                _ = try ClientConfig(properties: [key: value])
                Issue.record("expected an error for \(key)")
            } catch {
                #expect("\(error)".hasPrefix(key), "\(error)")
            }
        }
    }

    @Test func producerAndConsumerSettings() throws {
        let producer = try ProducerConfig(properties: ["acks": "all", "compression.type": "zstd", "batch.size": "100"])
        #expect(producer.acks == -1)
        #expect(producer.compression == .zstd)
        #expect(producer.batchSize == 100)
        #expect(throws: KafkaClientError.self) { try ProducerConfig(properties: ["acks": "2"]) }
        #expect(throws: KafkaClientError.self) { try ProducerConfig(properties: ["compression.type": "brotli"]) }

        let consumer = try ConsumerConfig(properties: [
            "group.id": "g", "auto.offset.reset": "earliest", "enable.auto.commit": "false", "isolation.level": "read_committed",
        ])
        #expect(consumer.groupId == "g")
        #expect(consumer.autoOffsetReset == .earliest)
        #expect(consumer.enableAutoCommit == false)
        #expect(consumer.isolationLevel == 1)
        #expect(throws: KafkaClientError.self) { try ConsumerConfig(properties: ["auto.offset.reset": "smallest"]) }
    }

    @Test func brokerAddressParsing() throws {
        #expect(try BrokerAddress.parse("localhost:9092") == BrokerAddress(host: "localhost", port: 9092))
        #expect(try BrokerAddress.parse("[::1]:1") == BrokerAddress(host: "::1", port: 1))
        #expect(throws: KafkaClientError.self) { try BrokerAddress.parse("localhost") }
        #expect(throws: KafkaClientError.self) { try BrokerAddress.parse("localhost:0") }
        #expect(throws: KafkaClientError.self) { try BrokerAddress.parseList(" , ") }
    }
}
