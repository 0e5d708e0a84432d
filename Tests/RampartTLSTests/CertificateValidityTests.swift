import Foundation
import Testing

@testable import RampartTLS

@Suite struct CertificateValidityTests {
    func server(crl: String? = nil, now: Date = Date(), chain: String = certs.serverCertificate, key: String = certs.serverKey) throws -> TLSContext {
        try TLSContext(configuration: TLSConfiguration(
            role: .server, certificateChainPath: chain, privateKeyPath: key,
            trustRootsPath: certs.caCertificate, crlPath: crl, clientAuthentication: .required
        ), now: now)
    }

    func client(_ certificate: String, _ key: String) throws -> TLSContext {
        try TLSContext(configuration: TLSConfiguration(
            role: .client, certificateChainPath: certificate, privateKeyPath: key,
            trustRootsPath: certs.caCertificate, hostnameToVerify: "localhost"))
    }

    @Test func ownCertificateSummary() throws {
        let summary = try #require(try server().certificate)
        #expect(summary.subject == "CN=localhost")
        #expect(summary.daysUntilExpiry() == 1)  // issued for 2 days, a few seconds ago
        #expect(summary.notBefore <= Date())
    }

    @Test func expiredOwnCertificateIsRefusedNamingTheFile() throws {
        let later = Date().addingTimeInterval(3 * 86_400)
        let error = #expect(throws: TLSError.self) { try server(now: later) }
        #expect(error?.kind == .certificateNotValid)
        #expect(error?.description.contains(certs.serverCertificate) == true)
        #expect(error?.description.contains("expired on") == true)
        let earlier = Date().addingTimeInterval(-86_400)
        #expect(throws: TLSError.self) { try server(now: earlier) }
    }

    @Test func expiredClientCertificateIsRefused() throws {
        let pair = try ChannelPair(client: try client(certs.expiredClientCertificate, certs.expiredClientKey), server: try server())
        try pair.interact()
        #expect(pair.serverRecorder.handshake == nil)
        let error = try #require(pair.serverRecorder.tlsErrors.first)
        #expect(error.description.contains("certificate has expired"))
        #expect(!pair.server.isActive)
    }

    @Test func revokedClientCertificateIsRefusedWithACRL() throws {
        // Without the CRL the revoked certificate is accepted; with it, refused; others still pass.
        let open = try ChannelPair(client: try client(certs.revokedClientCertificate, certs.revokedClientKey), server: try server())
        #expect(try open.handshake().server?.peerSubject == "CN=revoked")

        let checked = try server(crl: certs.crl)
        let refused = try ChannelPair(client: try client(certs.revokedClientCertificate, certs.revokedClientKey), server: checked)
        try refused.interact()
        #expect(refused.serverRecorder.handshake == nil)
        let error = try #require(refused.serverRecorder.tlsErrors.first)
        #expect(error.description.contains("certificate revoked"))

        let alice = try ChannelPair(client: try client(certs.clientCertificate, certs.clientKey), server: checked)
        #expect(try alice.handshake().server?.peerSubject == "CN=alice,OU=eng,O=Example")
        let emptyList = try ChannelPair(client: try client(certs.revokedClientCertificate, certs.revokedClientKey),
                                        server: try server(crl: certs.emptyCRL))
        #expect(try emptyList.handshake().server != nil)
    }

    @Test func badCRLFilesAreRefused() throws {
        let missing = #expect(throws: TLSError.self) { try server(crl: "/nonexistent/crl.pem") }
        #expect(missing?.description.contains("/nonexistent/crl.pem") == true)
        let notCRL = #expect(throws: TLSError.self) { try server(crl: certs.caCertificate) }
        #expect(notCRL?.description.contains("no valid PEM CRL") == true)
        #expect(throws: Never.self) { try server(crl: certs.shortCRL) }
        let stale = #expect(throws: TLSError.self) { try server(crl: certs.shortCRL, now: Date().addingTimeInterval(7200)) }
        #expect(stale?.kind == .certificateNotValid)
        #expect(stale?.description.contains("past its nextUpdate") == true)
    }
}
