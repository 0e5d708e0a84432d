import COpenSSL
import Foundation
@testable import RampartSASL

/// A key pair made in memory for tests: signs JWTs and describes its public half as a JWK.
final class JWTTestSigner: @unchecked Sendable {
    let algorithm: String
    let keyID: String?
    private let pkey: OpaquePointer

    /// An RSA key (`RS256`) of `bits`, or an EC P-256 key (`ES256`).
    init(_ algorithm: String, keyID: String? = nil, bits: Int32 = 2048) {
        self.algorithm = algorithm
        self.keyID = keyID
        let context = EVP_PKEY_CTX_new_from_name(nil, algorithm == "ES256" ? "EC" : "RSA", nil)!
        defer { EVP_PKEY_CTX_free(context) }
        precondition(EVP_PKEY_keygen_init(context) == 1)
        if algorithm == "ES256" {
            precondition(EVP_PKEY_CTX_set_group_name(context, "P-256") == 1)
        } else {
            precondition(EVP_PKEY_CTX_set_rsa_keygen_bits(context, bits) == 1)
        }
        var key: OpaquePointer?
        precondition(EVP_PKEY_generate(context, &key) == 1)
        pkey = key!
    }

    deinit { EVP_PKEY_free(pkey) }

    private func bignum(_ name: String, width: Int32? = nil) -> [UInt8] {
        var bn: OpaquePointer?
        precondition(EVP_PKEY_get_bn_param(pkey, name, &bn) == 1)
        defer { BN_free(bn) }
        let size = width ?? (BN_num_bits(bn) + 7) / 8
        var out = [UInt8](repeating: 0, count: Int(size))
        precondition(BN_bn2binpad(bn, &out, size) == size)
        return out
    }

    /// The public key as a JWK object (JSON text); `extra` adds or overrides members.
    func jwk(_ extra: [String: String] = [:]) -> String {
        var members: [String: String]
        if algorithm == "ES256" {
            members = ["kty": "EC", "crv": "P-256", "x": Base64URL.encode(bignum("qx", width: 32)), "y": Base64URL.encode(bignum("qy", width: 32))]
        } else {
            members = ["kty": "RSA", "n": Base64URL.encode(bignum("n")), "e": Base64URL.encode(bignum("e"))]
        }
        if let keyID { members["kid"] = keyID }
        members.merge(extra) { $1 }
        return "{" + members.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value)\"" }.joined(separator: ",") + "}"
    }

    /// A JWKS document holding these signers' keys.
    static func jwks(_ signers: [JWTTestSigner]) -> [UInt8] {
        Array(("{\"keys\":[" + signers.map { $0.jwk() }.joined(separator: ",") + "]}").utf8)
    }

    /// A compact JWS of `claims` (JSON text); `header` overrides the header (JSON text).
    func token(claims: String, header: String? = nil) -> String {
        let kid = keyID.map { ",\"kid\":\"\($0)\"" } ?? ""
        let headerText = header ?? "{\"alg\":\"\(algorithm)\",\"typ\":\"JWT\"\(kid)}"
        let input = Base64URL.encode(Array(headerText.utf8)) + "." + Base64URL.encode(Array(claims.utf8))
        return input + "." + Base64URL.encode(sign(Array(input.utf8)))
    }

    /// The JWS signature of `message`: PKCS#1 v1.5 for RSA, r ‖ s for ECDSA.
    func sign(_ message: [UInt8]) -> [UInt8] {
        let context = EVP_MD_CTX_new()!
        defer { EVP_MD_CTX_free(context) }
        precondition(EVP_DigestSignInit(context, nil, EVP_sha256(), nil, pkey) == 1)
        var length = 0
        precondition(EVP_DigestSign(context, nil, &length, message, message.count) == 1)
        var signature = [UInt8](repeating: 0, count: length)
        precondition(EVP_DigestSign(context, &signature, &length, message, message.count) == 1)
        signature.removeSubrange(length...)
        guard algorithm == "ES256" else { return signature }
        // DER ECDSA-Sig-Value → r ‖ s.
        var index = 2
        if signature[1] & 0x80 != 0 { index += Int(signature[1] & 0x7F) }
        var raw: [UInt8] = []
        for _ in 0..<2 {
            precondition(signature[index] == 0x02)
            let count = Int(signature[index + 1])
            let value = Array(signature[(index + 2)..<(index + 2 + count)].drop { $0 == 0 })
            raw += [UInt8](repeating: 0, count: 32 - value.count) + value
            index += 2 + count
        }
        return raw
    }
}

/// Claims as JSON text.
func claimsJSON(sub: String? = "alice", exp: Double?, nbf: Double? = nil, iss: String? = nil, aud: [String]? = nil,
                extra: String? = nil) -> String {
    var members: [String] = []
    if let sub { members.append("\"sub\":\"\(sub)\"") }
    if let exp { members.append("\"exp\":\(Int64(exp))") }
    if let nbf { members.append("\"nbf\":\(Int64(nbf))") }
    if let iss { members.append("\"iss\":\"\(iss)\"") }
    if let aud { members.append(aud.count == 1 ? "\"aud\":\"\(aud[0])\"" : "\"aud\":[" + aud.map { "\"\($0)\"" }.joined(separator: ",") + "]") }
    if let extra { members.append(extra) }
    return "{" + members.joined(separator: ",") + "}"
}
