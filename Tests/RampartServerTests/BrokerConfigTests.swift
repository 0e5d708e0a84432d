import RampartProperties
import RampartServer
import Testing

@Suite struct PropertiesFileTests {
    @Test func parsesJavaPropertiesSyntax() throws {
        let text = """
        # comment
        ! also a comment
        node.id=3
        log.dirs : /a, /b
        listeners PLAINTEXT://127.0.0.1:9092
        super.users=User:admin;\\
            User:ops
        key\\ with\\ space=v\\u00e9\\tx
          num.partitions = 4   
        """
        let file = try PropertiesFile.parse(text, source: "s.properties")
        let d = file.dictionary
        #expect(d["node.id"] == "3")
        #expect(d["log.dirs"] == "/a, /b")
        #expect(d["listeners"] == "PLAINTEXT://127.0.0.1:9092")
        #expect(d["super.users"] == "User:admin;User:ops")
        #expect(d["key with space"] == "vé\tx")
        #expect(d["num.partitions"] == "4   ")
        #expect(file.entries.first { $0.key == "num.partitions" }?.line == 9)
    }

    @Test func duplicateKeyIsAnError() {
        #expect(throws: PropertiesError.self) { try PropertiesFile.parse("a=1\na=2\n", source: "f") }
    }
}

@Suite struct BrokerConfigTests {
    @Test func defaultsApplyWithOnlyAListener() throws {
        let config = try BrokerConfig(properties: ["listeners": "SSL://127.0.0.1:9093"])
        #expect(config.nodeID == 1)
        #expect(config.numPartitions == 1)
        #expect(config.autoCreateTopics)
        #expect(config.logRetentionMs == 168 * 3_600_000)
        #expect(config.socketRequestMaxBytes == 104_857_600)
        #expect(config.listeners == [ListenerConfig(name: "SSL", host: "127.0.0.1", port: 9093, securityProtocol: .ssl)])
        #expect(config.advertisedListeners == config.listeners)
    }

    @Test func unknownKeyIsAnErrorWithASuggestion() {
        do {
            _ = try BrokerConfig(properties: ["listeners": "SSL://:9093", "num.partition": "3"])
            Issue.record("expected an error")
        } catch let error as ConfigError {
            #expect(error.message.contains("num.partition"))
            #expect(error.message.contains("did you mean 'num.partitions'"))
        } catch { Issue.record("unexpected \(error)") }
    }

    @Test func badValuesNameTheKey() {
        for (key, value) in [("num.partitions", "zero"), ("num.partitions", "0"), ("auto.create.topics.enable", "yes"),
                             ("log.message.timestamp.type", "Wallclock"), ("socket.request.max.bytes", "99999999999")] {
            do {
                _ = try BrokerConfig(properties: ["listeners": "SSL://:9093", key: value])
                Issue.record("expected an error for \(key)=\(value)")
            } catch let error as ConfigError {
                #expect(error.message.contains(key))
            } catch { Issue.record("unexpected \(error)") }
        }
    }

    @Test func plaintextNeedsTheInsecureOptIn() throws {
        #expect(throws: ConfigError.self) { try BrokerConfig(properties: ["listeners": "PLAINTEXT://127.0.0.1:9092"]) }
        #expect(throws: ConfigError.self) { try BrokerConfig(properties: ["listeners": "SASL_PLAINTEXT://127.0.0.1:9092"]) }
        let ok = try BrokerConfig(properties: ["listeners": "PLAINTEXT://127.0.0.1:9092", "rampart.insecure.allow.plaintext": "true"])
        #expect(ok.listeners.first?.securityProtocol == .plaintext)
    }

    @Test func listenerParsing() throws {
        let config = try BrokerConfig(properties: [
            "listeners": "CLIENT://:9093,INTERNAL://[::1]:9094",
            "listener.security.protocol.map": "CLIENT:SASL_SSL,INTERNAL:SSL",
            "advertised.listeners": "CLIENT://broker1.example:9093",
        ])
        #expect(config.listeners.map(\.name) == ["CLIENT", "INTERNAL"])
        #expect(config.listeners[1].host == "::1")
        #expect(config.advertisedListeners == [ListenerConfig(name: "CLIENT", host: "broker1.example", port: 9093, securityProtocol: .saslSSL)])
        for bad in ["CLIENT://:99999", "CLIENT://nohostport", "OTHER://:9093", "CLIENT//:9093", "CLIENT://:1,CLIENT://:2"] {
            #expect(throws: ConfigError.self, "\(bad)") {
                try BrokerConfig(properties: ["listeners": bad, "listener.security.protocol.map": "CLIENT:SSL"])
            }
        }
    }

    @Test func retentionPrecedence() throws {
        let base = ["listeners": "SSL://:9093"]
        #expect(try BrokerConfig(properties: base.merging(["log.retention.minutes": "5"]) { $1 }).logRetentionMs == 300_000)
        #expect(try BrokerConfig(properties: base.merging(["log.retention.minutes": "5", "log.retention.ms": "7"]) { $1 }).logRetentionMs == 7)
    }
}
