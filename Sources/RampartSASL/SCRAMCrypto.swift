internal import COpenSSL

/// The primitives of SCRAM (RFC 5802 §2.2) over the system OpenSSL.
enum SCRAMCrypto {
    private static func digest(_ mechanism: SCRAMMechanism) -> OpaquePointer {
        mechanism == .sha256 ? EVP_sha256() : EVP_sha512()
    }

    /// Hi(password, salt, i): PBKDF2 with HMAC-H, one block of the hash's size.
    static func saltedPassword(_ password: [UInt8], salt: [UInt8], iterations: Int, mechanism: SCRAMMechanism) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: mechanism.digestSize)
        // A non-empty buffer even for an empty password, so the pointer is never null.
        let input = password.isEmpty ? [0] : password
        let ok = input.withUnsafeBufferPointer { pw in
            pw.withMemoryRebound(to: CChar.self) { pwChars in
                salt.withUnsafeBufferPointer { s in
                    out.withUnsafeMutableBufferPointer { o in
                        PKCS5_PBKDF2_HMAC(pwChars.baseAddress, Int32(password.count), s.baseAddress, Int32(s.count),
                                          Int32(iterations), digest(mechanism), Int32(o.count), o.baseAddress)
                    }
                }
            }
        }
        precondition(ok == 1, "PKCS5_PBKDF2_HMAC failed")
        return out
    }

    /// HMAC(key, message) with the mechanism's hash.
    static func hmac(key: [UInt8], _ message: [UInt8], mechanism: SCRAMMechanism) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: mechanism.digestSize)
        var length: UInt32 = 0
        let result = key.withUnsafeBytes { k in
            message.withUnsafeBufferPointer { m in
                out.withUnsafeMutableBufferPointer { o in
                    HMAC(digest(mechanism), k.baseAddress, Int32(k.count), m.baseAddress, m.count, o.baseAddress, &length)
                }
            }
        }
        precondition(result != nil && Int(length) == mechanism.digestSize, "HMAC failed")
        return out
    }

    /// H(data).
    static func hash(_ data: [UInt8], mechanism: SCRAMMechanism) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: mechanism.digestSize)
        var length: UInt32 = 0
        let ok = data.withUnsafeBytes { d in
            out.withUnsafeMutableBufferPointer { o in
                EVP_Digest(d.baseAddress, d.count, o.baseAddress, &length, digest(mechanism), nil)
            }
        }
        precondition(ok == 1 && Int(length) == mechanism.digestSize, "EVP_Digest failed")
        return out
    }

    static func xor(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] {
        precondition(a.count == b.count)
        return zip(a, b).map { $0 ^ $1 }
    }

    /// Equality in time independent of where the inputs differ.
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return a.withUnsafeBytes { x in b.withUnsafeBytes { y in CRYPTO_memcmp(x.baseAddress, y.baseAddress, a.count) == 0 } }
    }

    /// Bytes from OpenSSL's CSPRNG.
    static func randomBytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let ok = out.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
        precondition(ok == 1, "RAND_bytes failed")
        return out
    }

    static let clientKeyLabel = Array("Client Key".utf8)
    static let serverKeyLabel = Array("Server Key".utf8)
}

/// Base64 (RFC 4648 §4, with padding), the encoding of every binary field in SCRAM and RFC 5803.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, character) in alphabet.enumerated() { table[Int(character)] = UInt8(index) }
        return table
    }()

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let b0 = bytes[index]
            let b1 = index + 1 < bytes.count ? bytes[index + 1] : 0
            let b2 = index + 2 < bytes.count ? bytes[index + 2] : 0
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)])
            out.append(index + 1 < bytes.count ? alphabet[Int((b1 & 0x0F) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            out.append(index + 2 < bytes.count ? alphabet[Int(b2 & 0x3F)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The decoded bytes, or nil unless `text` is canonical padded base64.
    static func decode<S: StringProtocol>(_ text: S) -> [UInt8]? {
        let input = Array(text.utf8)
        guard input.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(input.count / 4 * 3)
        var index = 0
        while index < input.count {
            let isLast = index + 4 == input.count
            let c = input[index..<index + 4]
            let pad = c.reversed().prefix { $0 == UInt8(ascii: "=") }.count
            guard pad <= 2, pad == 0 || isLast else { return nil }
            var quantum: UInt32 = 0
            for (offset, character) in c.enumerated() {
                let value: UInt8
                if offset >= 4 - pad {
                    value = 0
                } else {
                    value = values[Int(character)]
                    guard value != 0xFF else { return nil }
                }
                quantum = quantum << 6 | UInt32(value)
            }
            out.append(UInt8(quantum >> 16 & 0xFF))
            if pad < 2 { out.append(UInt8(quantum >> 8 & 0xFF)) }
            if pad < 1 { out.append(UInt8(quantum & 0xFF)) }
            // Bits under the padding must be zero (canonical form).
            if pad == 1, quantum & 0xFF != 0 { return nil }
            if pad == 2, quantum & 0xFFFF != 0 { return nil }
            index += 4
        }
        return out
    }
}
