import ArgumentParser
import Foundation
import RampartTLS

/// `rampart cert`: a small certificate authority in a directory, for brokers and clients without a
/// PKI of their own (see `CertificateAuthority` for the files).
struct CertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cert",
        abstract: "Create a CA, issue, revoke and list certificates, write CRLs (files in --dir).",
        subcommands: [CA.self, Issue.self, Revoke.self, CRL.self, List.self]
    )

    /// `--dir`, shared by every `cert` subcommand.
    struct DirectoryOption: ParsableArguments {
        @Option(help: "The CA directory.") var dir: String = "certs"
    }

    /// Subject parts besides the CN.
    struct SubjectOptions: ParsableArguments {
        @Option(help: "Organizational unit, OU (repeatable, most specific first).") var ou: [String] = []
        @Option(help: "Organization, O.") var o: String?

        func subject(commonName: String) -> SubjectName {
            SubjectName(commonName: commonName, organizationalUnits: ou, organization: o)
        }
    }

    /// The type of a generated key.
    struct KeyOptions: ParsableArguments {
        @Option(name: .customLong("key-type"), help: "ec (P-256) or rsa.") var keyType: String = "ec"
        @Option(name: .customLong("key-size"), help: "RSA key size: 2048, 3072 (default) or 4096.") var keySize: Int?

        func type() throws -> KeyType { try KeyType(name: keyType, rsaBits: keySize) }
    }

    struct CA: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a CA: ca.key (0600), ca.crt, index.json in --dir.")
        @OptionGroup var directory: DirectoryOption
        @Option(help: "The CA's common name.") var cn: String = "Rampart CA"
        @OptionGroup var subject: SubjectOptions
        @Option(help: "Validity in days.") var days: Int = 3650
        @OptionGroup var key: KeyOptions
        @Flag(name: .customLong("key-password-stdin"), help: "Encrypt ca.key with a password read from stdin (prompted on a terminal).")
        var keyPasswordStdin = false
        @Flag(help: "Replace an existing CA (its database and CRL too).") var force = false
        @Flag(name: .customLong("if-not-exists"), help: "Succeed without changes if the CA exists.") var ifNotExists = false

        func validate() throws {
            if force && ifNotExists { throw ValidationError("--force and --if-not-exists exclude each other") }
        }

        func run() async throws {
            try runCertCommand {
                let password = keyPasswordStdin ? try PasswordInput.read("CA key password", option: "--key-password-stdin", confirm: true) : nil
                let options = AuthorityOptions(
                    subject: subject.subject(commonName: cn), days: days, keyType: try key.type(),
                    keyPassword: password, force: force
                )
                do {
                    let authority = try CertificateAuthority.create(in: directory.dir, options: options)
                    let info = authority.certificate
                    print("Created CA \(info.subject) (\(info.keyType?.description ?? "key"), serial \(info.serial), expires \(format(info.notAfter)))")
                    print("  \(authority.certificatePath)  CA certificate: the trust store (ssl.truststore.location, ssl.ca.location)")
                    print("  \(authority.keyPath)  CA private key (0600): keep it secret")
                } catch let error as CertificateError where ifNotExists && error.kind == .fileExists {
                    print("A CA exists in \(directory.dir); kept.")
                }
            }
        }
    }

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a certificate signed by the CA: <name>.crt, <name>.key (0600), <name>.pem (key + chain, 0600).")
        @OptionGroup var directory: DirectoryOption
        @Option(help: "Common name, CN (e.g. a user name, or the broker's host name).") var cn: String
        @OptionGroup var subject: SubjectOptions
        @Option(help: "Base name of the files (default: the CN).") var name: String?
        @Option(help: "A DNS name or IP address the certificate is valid for (repeatable; DNS:/IP: prefixes allowed). A server certificate without --san gets its CN.")
        var san: [String] = []
        @Flag(help: "For a TLS server (extendedKeyUsage serverAuth).") var server = false
        @Flag(help: "For a TLS client (extendedKeyUsage clientAuth); with --server, both.") var client = false
        @Option(help: "Validity in days.") var days: Int = 365
        @OptionGroup var key: KeyOptions
        @Flag(name: .customLong("key-password-stdin"), help: "Encrypt the new key with a password read from stdin (after the CA's, if both are read).")
        var keyPasswordStdin = false
        @Flag(name: .customLong("ca-password-stdin"), help: "Read the CA key's password from stdin.") var caPasswordStdin = false
        @Flag(help: "Replace existing files of that name.") var force = false
        @Flag(name: .customLong("if-not-exists"), help: "Succeed without changes if files of that name exist.") var ifNotExists = false

        func validate() throws {
            if force && ifNotExists { throw ValidationError("--force and --if-not-exists exclude each other") }
            if !server && !client { throw ValidationError("say what the certificate is for: --server, --client or both") }
        }

        func run() async throws {
            try runCertCommand {
                let names = try san.map { try SubjectAlternativeName(parsing: $0) }
                var usages: Set<ExtendedKeyUsage> = []
                if server { usages.insert(.serverAuth) }
                if client { usages.insert(.clientAuth) }
                let caPassword = caPasswordStdin ? try PasswordInput.read("CA key password", option: "--ca-password-stdin", confirm: false) : nil
                let authority = try CertificateAuthority.open(directory.dir, keyPassword: caPassword)
                let keyPassword = keyPasswordStdin ? try PasswordInput.read("new key password", option: "--key-password-stdin", confirm: true) : nil
                let request = CertificateRequest(
                    subject: subject.subject(commonName: cn), name: name, subjectAlternativeNames: names, usages: usages,
                    days: days, keyType: try key.type(), keyPassword: keyPassword, force: force
                )
                do {
                    let issued = try authority.issue(request)
                    let record = issued.record
                    let sans = record.subjectAlternativeNames.map(\.description).joined(separator: ", ")
                    print("Issued \(record.subject) (serial \(record.serial), expires \(format(record.notAfter)), \(record.usages.map(\.rawValue).joined(separator: "+"))\(sans.isEmpty ? "" : ", SAN \(sans)"))")
                    print("  \(issued.certificatePath)  certificate + CA certificate")
                    print("  \(issued.keyPath)  private key (0600)\(keyPassword == nil ? "" : ", encrypted")")
                    print("  \(issued.bundlePath)  key + certificate chain (0600): ssl.keystore.location")
                } catch let error as CertificateError where ifNotExists && error.kind == .fileExists {
                    print("\(error.message.replacingOccurrences(of: "; use --force to replace it", with: "")); kept.")
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a certificate (by --serial, --cert FILE or --name) and write crl.pem.")
        @OptionGroup var directory: DirectoryOption
        @Option(help: "Serial number in hex, as `rampart cert list` shows it.") var serial: String?
        @Option(help: "A certificate file issued by the CA.") var cert: String?
        @Option(help: "The name the certificate was issued under (its <dir>/<name>.crt).") var name: String?
        @Option(help: "Reason: \(RevocationReason.allCases.map(\.rawValue).joined(separator: ", ")).") var reason: String = "unspecified"
        @Option(name: .customLong("crl-days"), help: "Days until the written CRL's nextUpdate.") var crlDays: Int = 30
        @Flag(name: .customLong("ca-password-stdin"), help: "Read the CA key's password from stdin.") var caPasswordStdin = false

        func validate() throws {
            let given = [serial, cert, name].compactMap { $0 }.count
            guard given == 1 else { throw ValidationError("give exactly one of --serial, --cert, --name") }
            guard RevocationReason(rawValue: reason) != nil else {
                throw ValidationError("--reason \(reason): expected one of \(RevocationReason.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }

        func run() async throws {
            try runCertCommand {
                let reason = RevocationReason(rawValue: reason) ?? .unspecified
                let caPassword = caPasswordStdin ? try PasswordInput.read("CA key password", option: "--ca-password-stdin", confirm: false) : nil
                let authority = try CertificateAuthority.open(directory.dir, keyPassword: caPassword)
                let record: CertificateRecord
                if let serial {
                    record = try authority.revoke(serial: serial, reason: reason)
                } else {
                    let path = cert ?? "\(directory.dir)/\(name ?? "").crt"
                    record = try authority.revoke(certificateAt: path, reason: reason)
                }
                print("Revoked serial \(record.serial) (\(record.subject)).")
                do {
                    let crl = try authority.writeRevocationList(validForDays: crlDays)
                    printCRL(crl, path: authority.revocationListPath)
                } catch {
                    throw ValidationError("the revocation is recorded, but writing the CRL failed: \(error); run `rampart cert crl --dir \(directory.dir)`")
                }
            }
        }
    }

    struct CRL: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write crl.pem: every revoked certificate, signed by the CA (rampart.ssl.crl.location).")
        @OptionGroup var directory: DirectoryOption
        @Option(help: "Days until the CRL's nextUpdate (write a new one before then).") var days: Int = 30
        @Flag(name: .customLong("ca-password-stdin"), help: "Read the CA key's password from stdin.") var caPasswordStdin = false

        func run() async throws {
            try runCertCommand {
                let caPassword = caPasswordStdin ? try PasswordInput.read("CA key password", option: "--ca-password-stdin", confirm: false) : nil
                let authority = try CertificateAuthority.open(directory.dir, keyPassword: caPassword)
                printCRL(try authority.writeRevocationList(validForDays: days), path: authority.revocationListPath)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the certificates the CA issued.")
        @OptionGroup var directory: DirectoryOption

        func run() async throws {
            try runCertCommand {
                let records = try CertificateAuthority.records(in: directory.dir)
                if let ca = try? CertificateInfo.load("\(directory.dir)/\(CertificateAuthority.certificateFileName)").first {
                    print("CA \(ca.subject) (serial \(ca.serial), expires \(format(ca.notAfter)))")
                }
                let now = Date()
                let rows = [["SERIAL", "STATUS", "NOT AFTER", "NAME", "USAGE", "SUBJECT"]] + records.map { record in
                    var status = record.status(at: now).rawValue
                    if let revokedAt = record.revokedAt {
                        status += " \(format(revokedAt))" + (record.revocationReason.map { $0 == .unspecified ? "" : " (\($0.rawValue))" } ?? "")
                    }
                    return [record.serial, status, format(record.notAfter), record.name,
                            record.usages.map(\.rawValue).joined(separator: "+"), record.subject]
                }
                let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
                for row in rows {
                    let cells = row.enumerated().map { index, cell in
                        index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
                    }
                    print(cells.joined(separator: "  "))
                }
            }
        }
    }
}

private func printCRL(_ crl: RevocationList, path: String) {
    let next = crl.nextUpdate.map { ", next update due \(format($0))" } ?? ""
    print("Wrote \(path) (CRL number \(crl.number.map(String.init) ?? "?"), \(crl.revoked.count) revoked\(next)).")
}

private func format(_ date: Date) -> String {
    date.formatted(.iso8601)
}

/// Runs a `cert` command body: a `CertificateError` or validation error becomes one line
/// `rampart: …` on stderr and exit status 1.
private func runCertCommand(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as CertificateError {
        printError(error.description)
        throw ExitCode(1)
    } catch let error as ValidationError {
        printError(error.message)
        throw ExitCode(1)
    }
}
