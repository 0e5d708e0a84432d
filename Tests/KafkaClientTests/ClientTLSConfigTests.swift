import KafkaClient
import RampartTLS
import Testing

@Suite struct ClientTLSConfigTests {
    func config(_ properties: [String: String]) throws -> ClientConfig {
        try ClientConfig(properties: ["security.protocol": "SSL"].merging(properties) { $1 })
    }

    func error(_ properties: [String: String]) -> String? {
        do {
            _ = try config(properties)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func defaultsVerifyTheHostAgainstTheSystemTrustStore() throws {
        let config = try config([:])
        #expect(config.securityProtocol == .ssl)
        #expect(config.tls == ClientTLSConfig())
        #expect(config.tls.caLocation == nil)
        #expect(config.tls.verifyHostname)
        #expect(config.tls.enabledProtocols == [.tlsv1_2, .tlsv1_3])
        #expect(try ClientConfig(properties: ["security.protocol": "ssl"]).securityProtocol == .ssl)
    }

    @Test func librdkafkaNames() throws {
        let tls = try config([
            "ssl.ca.location": "ca.pem", "ssl.certificate.location": "me.pem", "ssl.key.location": "me.key",
            "ssl.key.password": "pw", "ssl.endpoint.identification.algorithm": "none",
            "ssl.enabled.protocols": "TLSv1.3", "ssl.cipher.suites": "TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384",
        ]).tls
        #expect(tls.caLocation == "ca.pem")
        #expect(tls.certificateLocation == "me.pem")
        #expect(tls.keyLocation == "me.key")
        #expect(tls.keyPassword == ClientTLSConfig.Password("pw"))
        #expect(!tls.verifyHostname)
        #expect(tls.enabledProtocols == [.tlsv1_3])
        #expect(tls.cipherSuites == ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"])
    }

    @Test func javaNames() throws {
        let tls = try config([
            "ssl.truststore.type": "PEM", "ssl.truststore.location": "ca.pem",
            "ssl.keystore.type": "pem", "ssl.keystore.location": "keystore.pem", "ssl.key.password": "pw",
            "ssl.endpoint.identification.algorithm": "HTTPS", "ssl.protocol": "TLSv1.3",
        ]).tls
        #expect(tls.caLocation == "ca.pem")
        #expect(tls.certificateLocation == "keystore.pem")
        #expect(tls.keyLocation == "keystore.pem")
        #expect(tls.verifyHostname)
        // Both spellings naming the same file are fine; an empty algorithm turns verification off.
        #expect(try config(["ssl.ca.location": "ca.pem", "ssl.truststore.location": "ca.pem"]).tls.caLocation == "ca.pem")
        #expect(try !config(["ssl.endpoint.identification.algorithm": ""]).tls.verifyHostname)
        #expect(try config(["ssl.ca.location": "probe"]).tls.caLocation == nil)
    }

    @Test func theKeyPasswordIsNeverPrinted() throws {
        let config = try config(["ssl.key.password": "hunter2"])
        #expect(!"\(config.tls)".contains("hunter2"))
        #expect(!String(reflecting: config.tls).contains("hunter2"))
    }

    @Test func badSettingsAreErrorsNamingTheKey() {
        let cases: [([String: String], String)] = [
            (["ssl.truststore.type": "JKS", "ssl.truststore.location": "x.jks"], "ssl.truststore.type: 'JKS' is not supported"),
            (["ssl.keystore.type": "PKCS12", "ssl.keystore.location": "x.p12"], "ssl.keystore.type: 'PKCS12' is not supported"),
            (["ssl.truststore.password": "pw"], "ssl.truststore.password"),
            (["ssl.keystore.password": "pw"], "ssl.keystore.password"),
            (["ssl.ca.location": "a.pem", "ssl.truststore.location": "b.pem"], "name different files"),
            (["ssl.certificate.location": "me.pem"], "ssl.certificate.location is set without ssl.key.location"),
            (["ssl.key.location": "me.key"], "ssl.key.location is set without ssl.certificate.location"),
            (["ssl.keystore.location": "k.pem", "ssl.key.location": "me.key"], "ssl.keystore.location cannot be combined"),
            (["ssl.endpoint.identification.algorithm": "ldap"], "ssl.endpoint.identification.algorithm: 'ldap'"),
            (["ssl.enabled.protocols": "TLSv1.1"], "ssl.enabled.protocols: unsupported protocol 'TLSv1.1'"),
            (["ssl.keystore.key": "-----BEGIN PRIVATE KEY-----"], "ssl.keystore.key: inline PEM values are not supported"),
            (["ssl.cipher.suitez": "x"], "unknown client property 'ssl.cipher.suitez'"),
        ]
        for (properties, expected) in cases {
            let message = error(properties)
            #expect(message?.contains(expected) == true, "\(properties): \(message ?? "no error")")
        }
    }

    @Test func onlyTheTLSProtocolsBuildAContext() throws {
        var config = ClientConfig()
        for (securityProtocol, usesTLS) in [(ClientConfig.SecurityProtocol.plaintext, false), (.saslPlaintext, false), (.ssl, true), (.saslSSL, true)] {
            config.securityProtocol = securityProtocol
            #expect(try (config.makeTLSContext() != nil) == usesTLS, "\(securityProtocol)")
        }
    }

    @Test func aContextIsBuiltFromTheFiles() throws {
        let certs = ClientTestCertificates.shared
        let context = try #require(try config([
            "ssl.ca.location": certs.ca, "ssl.keystore.location": certs.aliceKeystore,
            "socket.connection.setup.timeout.ms": "1234",
        ]).makeTLSContext())
        #expect(context.configuration.role == .client)
        #expect(context.configuration.handshakeTimeout == .milliseconds(1234))
        #expect(context.configuration.certificateChainPath == certs.aliceKeystore)
        // A wrong key password names the key file.
        do {
            _ = try config([
                "ssl.certificate.location": certs.aliceCertificate, "ssl.key.location": certs.aliceEncryptedKey,
                "ssl.key.password": "not-the-password",
            ]).makeTLSContext()
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains(certs.aliceEncryptedKey), "\(error)")
            #expect(!"\(error)".contains("not-the-password"), "\(error)")
        }
    }
}
