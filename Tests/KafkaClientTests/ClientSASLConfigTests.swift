import KafkaClient
import RampartSASL
import Testing

/// SASL client properties: librdkafka's and Java's names, `sasl.jaas.config`, conflicts, and secrets
/// kept out of printed values and of `ClientConfig.properties`.
@Suite struct ClientSASLConfigTests {
    func error(_ properties: [String: String]) -> String? {
        do {
            _ = try ClientConfig(properties: properties)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func librdkafkaNames() throws {
        let config = try ClientConfig(properties: [
            "security.protocol": "SASL_SSL", "sasl.mechanisms": "scram-sha-512", "sasl.username": "alice", "sasl.password": "pw-1",
        ])
        #expect(config.sasl.mechanism == .scramSHA512)
        #expect(config.sasl.username == "alice")
        #expect(config.sasl.password?.bytes == Array("pw-1".utf8))
        #expect(try config.sasl.makeMechanism() is SCRAMClient)
    }

    @Test func javaJAASConfig() throws {
        let scram = try ClientConfig(properties: [
            "sasl.mechanism": "SCRAM-SHA-256",
            "sasl.jaas.config": #"org.apache.kafka.common.security.scram.ScramLoginModule required username="al ice" password="p\"w;=2";"#,
        ])
        #expect(scram.sasl.mechanism == .scramSHA256)
        #expect(scram.sasl.username == "al ice")
        #expect(scram.sasl.password?.bytes == Array(#"p"w;=2"#.utf8))

        let plain = try ClientConfig(properties: [
            "sasl.mechanism": "PLAIN",
            "sasl.jaas.config": "org.apache.kafka.common.security.plain.PlainLoginModule Required\n  username=bob\n  password=secret ;",
        ])
        #expect(plain.sasl.username == "bob")
        #expect(try plain.sasl.makeMechanism() is PLAINClient)
        // The same user in both places is fine.
        _ = try ClientConfig(properties: [
            "sasl.mechanism": "PLAIN", "sasl.username": "bob",
            "sasl.jaas.config": "org.apache.kafka.common.security.plain.PlainLoginModule required username=bob password=x;",
        ])
    }

    @Test func badSettingsNameTheKeyButNeverTheSecret() {
        let module = "org.apache.kafka.common.security.scram.ScramLoginModule"
        let cases: [([String: String], String)] = [
            (["sasl.mechanism": "GSSAPI"], "sasl.mechanism: 'GSSAPI' is not supported by the rampart client"),
            (["sasl.mechanisms": "DIGEST-MD5"], "sasl.mechanisms: 'DIGEST-MD5' is not supported"),
            (["sasl.mechanism": "PLAIN", "sasl.mechanisms": "SCRAM-SHA-256"], "sasl.mechanism (PLAIN) and sasl.mechanisms (SCRAM-SHA-256) differ"),
            (["sasl.jaas.config": "com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true;"],
             "login module 'com.sun.security.auth.module.Krb5LoginModule' is not supported"),
            (["sasl.mechanism": "PLAIN", "sasl.jaas.config": "\(module) required username=a password=topsecret;"],
             "ScramLoginModule does not serve SASL mechanism PLAIN"),
            (["sasl.jaas.config": "\(module) required username=a password=topsecret"], "missing ';'"),
            (["sasl.jaas.config": "\(module) required username=a password=\"topsecret;"], "a quoted value is not closed"),
            (["sasl.jaas.config": "\(module) mandatory password=topsecret;"], "'mandatory' is not a control flag"),
            (["sasl.jaas.config": "\(module) required password;"], "an option is not key=value"),
            (["sasl.jaas.config": "\(module) required password=topsecret; \(module) required password=topsecret;"], "more than one login module"),
            (["sasl.jaas.config": "\(module) required password=topsecret password=topsecret;"], "option 'password' is given twice"),
            (["sasl.username": "a", "sasl.jaas.config": "\(module) required username=b password=topsecret;"],
             "sasl.username and the username in sasl.jaas.config differ"),
        ]
        for (properties, expected) in cases {
            let message = error(properties)
            #expect(message?.contains(expected) == true, "\(properties): \(message ?? "no error")")
            #expect(message?.contains("topsecret") != true)
        }
    }

    @Test func secretsAreNeitherKeptInPropertiesNorPrinted() throws {
        let config = try ClientConfig(properties: [
            "security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", "ssl.key.password": "keypass-9",
            "sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required username=alice password=\"jaas-Secret-1\";",
        ])
        #expect(config.properties["sasl.jaas.config"] == nil)
        #expect(config.properties["ssl.key.password"] == nil)
        #expect(config.properties["sasl.mechanism"] == "SCRAM-SHA-512")
        let withPassword = try ClientConfig(properties: ["sasl.mechanism": "PLAIN", "sasl.username": "u", "sasl.password": "plain-Secret-2"])
        #expect(withPassword.properties["sasl.password"] == nil)
        for value in [config, withPassword] {
            var dumped = ""
            dump(value, to: &dumped)
            for text in ["\(value)", String(reflecting: value), dumped, "\(value.sasl)"] {
                for secret in ["jaas-Secret-1", "plain-Secret-2", "keypass-9"] {
                    #expect(!text.contains(secret), "\(secret) printed")
                }
            }
        }
        #expect("\(config.sasl)" == "ClientSASLConfig(mechanism: SCRAM-SHA-512, username: alice, password: <redacted>)")
    }
}
