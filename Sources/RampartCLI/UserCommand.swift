import ArgumentParser
import Foundation
import KafkaClient
import RampartSASL
import RampartServer

#if canImport(Glibc)
import Glibc
#endif

/// `rampart user`: SCRAM users, like `kafka-configs --entity-type users --alter --add-config SCRAM-…`.
/// Offline (`--config server.properties` of a stopped broker), the way `kafka-storage format
/// --add-scram` creates the first users; or online (`--bootstrap-server`, with `--command-config` for
/// TLS) through AlterUserScramCredentials/DescribeUserScramCredentials, which the broker allows to
/// `super.users` over TLS. Passwords come from a no-echo prompt or, with `--password-stdin`, the first
/// line of standard input — never from an argument; online, only the salt and SaltedPassword are sent.
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Manage SCRAM users: offline in a stopped broker's data directory, or online over the admin API.",
        subcommands: [Add.self, Update.self, Delete.self, List.self, Describe.self]
    )

    /// Where the users are: a stopped broker's `server.properties`, or a running cluster.
    struct StoreOptions: ParsableArguments {
        @Option(help: "Offline: the broker's server.properties; users go into the metadata store in its log.dirs (the broker must be stopped).")
        var config: String?

        @Option(name: .customLong("bootstrap-server"), help: "Online: brokers to connect to (the principal must be in super.users; TLS listener).")
        var bootstrapServer: String?

        @Option(name: .customLong("command-config"), help: "Online: client properties (security.protocol=SSL, ssl.*).")
        var commandConfig: String?

        func validate() throws {
            guard (config == nil) != (bootstrapServer == nil) else {
                throw ValidationError("give either --config server.properties (offline) or --bootstrap-server (online)")
            }
            if config != nil && commandConfig != nil { throw ValidationError("--command-config goes with --bootstrap-server") }
        }

        /// Runs `body` against the store: the locked data directory, or a cluster (closed afterwards).
        func with(_ body: (UserStore) async throws -> Void) async throws {
            try await report {
                if let config {
                    try await body(.offline(OfflineUsers(config: BrokerConfig.load(path: config))))
                    return
                }
                var arguments = ["--bootstrap-server", bootstrapServer!]
                if let commandConfig { arguments += ["--command-config", commandConfig] }
                let cluster = KafkaCluster(config: try ConnectionOptions.parse(arguments).clientConfig())
                do {
                    try await body(.online(KafkaAdmin(cluster: cluster)))
                } catch {
                    await cluster.close()
                    throw error
                }
                await cluster.close()
            }
        }
    }

    /// The users of a stopped broker's data directory, or of a running cluster.
    enum UserStore {
        case offline(OfflineUsers)
        case online(KafkaAdmin)

        func list(_ users: [String]? = nil) async throws -> [(user: String, credentials: [(mechanism: String, iterations: Int)])] {
            switch self {
            case .offline(let store):
                let all = await store.list()
                guard let users else { return all }
                return try users.map { name in
                    guard let entry = all.first(where: { $0.user == name }) else { throw OfflineUsersError("no user '\(name)'") }
                    return entry
                }
            case .online(let admin):
                let described = try await admin.describeUserScramCredentials(users)
                return described.keys.sorted().map { user in
                    (user, described[user]!.sorted { $0.mechanism < $1.mechanism }.map { ($0.mechanism, Int($0.iterations)) })
                }
            }
        }

        func set(user: String, credential options: CredentialOptions, replace: Bool) async throws {
            switch self {
            case .offline(let store):
                try await store.setCredential(user: user, credential: options.credential(for: user), replace: replace)
            case .online(let admin):
                let mechanism = options.scramMechanism
                let existing = try await admin.describeUserScramCredentials().first { $0.key == user }?.value ?? []
                let exists = existing.contains { $0.mechanism == mechanism.name }
                if exists && !replace { throw OfflineUsersError("user '\(user)' already has a \(mechanism.name) credential (use `rampart user update`)") }
                if !exists && replace { throw OfflineUsersError("user '\(user)' has no \(mechanism.name) credential (use `rampart user add`)") }
                let password = try options.readPassword(for: user)
                var generator = SystemRandomNumberGenerator()
                let salt = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let salted = SCRAMCredential.saltedPassword(password, salt: salt, iterations: options.iterations, mechanism: mechanism)
                try await admin.upsertUserScramCredential(user: user, mechanism: mechanism.name, iterations: Int32(options.iterations),
                                                          salt: salt, saltedPassword: salted)
            }
        }

        func delete(user: String, mechanism: SCRAMMechanism?) async throws {
            switch self {
            case .offline(let store):
                try await store.deleteCredentials(user: user, mechanism: mechanism)
            case .online(let admin):
                var mechanisms = mechanism.map { [$0.name] } ?? []
                if mechanism == nil {
                    mechanisms = try await admin.describeUserScramCredentials([user])[user, default: []].map(\.mechanism)
                }
                try await admin.deleteUserScramCredentials(user: user, mechanisms: mechanisms)
            }
        }
    }

    struct CredentialOptions: ParsableArguments {
        @Option(help: "SCRAM-SHA-256 or SCRAM-SHA-512.")
        var mechanism: String

        @Option(help: "PBKDF2 iterations, \(SCRAMMechanism.minIterations)–\(SCRAMMechanism.maxIterations).")
        var iterations: Int = SCRAMMechanism.defaultIterations

        @Flag(name: .customLong("password-stdin"), help: "Read the password from the first line of standard input instead of prompting.")
        var passwordStdin = false

        func validate() throws {
            guard SCRAMMechanism(name: mechanism.uppercased()) != nil else {
                throw ValidationError("--mechanism must be SCRAM-SHA-256 or SCRAM-SHA-512, not '\(mechanism)'")
            }
            guard (SCRAMMechanism.minIterations...SCRAMMechanism.maxIterations).contains(iterations) else {
                throw ValidationError("--iterations must be between \(SCRAMMechanism.minIterations) and \(SCRAMMechanism.maxIterations)")
            }
        }

        var scramMechanism: SCRAMMechanism { SCRAMMechanism(name: mechanism.uppercased())! }

        func readPassword(for user: String) throws -> SASLPassword {
            try passwordStdin ? UserPasswordInput.readStandardInput() : UserPasswordInput.prompt(for: user)
        }

        func credential(for user: String) throws -> SCRAMCredential {
            try SCRAMCredential.generate(password: readPassword(for: user), mechanism: scramMechanism, iterations: iterations)
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a SCRAM credential for a new user (or a new mechanism of a user).")
        @Argument(help: "The user name (the principal will be User:<name>).") var name: String
        @OptionGroup var credential: CredentialOptions
        @OptionGroup var store: StoreOptions

        func validate() throws {
            if let problem = OfflineUsers.validateUserName(name) { throw ValidationError(problem) }
        }

        func run() async throws {
            try await store.with { try await $0.set(user: name, credential: credential, replace: false) }
            print("Added \(credential.scramMechanism.name) credential for user \(name).")
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Replace a user's SCRAM credential (a new password).")
        @Argument(help: "The user name.") var name: String
        @OptionGroup var credential: CredentialOptions
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await store.with { try await $0.set(user: name, credential: credential, replace: true) }
            print("Updated \(credential.scramMechanism.name) credential of user \(name).")
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a user's SCRAM credential (every mechanism without --mechanism).")
        @Argument(help: "The user name.") var name: String
        @Option(help: "Only this mechanism's credential.") var mechanism: String?
        @OptionGroup var store: StoreOptions

        func validate() throws {
            if let mechanism, SCRAMMechanism(name: mechanism.uppercased()) == nil {
                throw ValidationError("--mechanism must be SCRAM-SHA-256 or SCRAM-SHA-512, not '\(mechanism)'")
            }
        }

        func run() async throws {
            let scram = mechanism.flatMap { SCRAMMechanism(name: $0.uppercased()) }
            try await store.with { try await $0.delete(user: name, mechanism: scram) }
            print("Deleted \(scram?.name ?? "every") credential of user \(name).")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users and the mechanisms they have credentials for.")
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await store.with { users in
                printTable(["USER", "MECHANISMS"], try await users.list().map { [$0.user, $0.credentials.map(\.mechanism).joined(separator: ",")] })
            }
        }
    }

    struct Describe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a user's credentials (mechanism and iterations; never keys).")
        @Argument(help: "The user name.") var name: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await store.with { users in
                let found = try await users.list([name])
                printTable(["USER", "MECHANISM", "ITERATIONS"], found.flatMap { entry in entry.credentials.map { [entry.user, $0.mechanism, "\($0.iterations)"] } })
            }
        }
    }
}

/// Runs `body`; an error becomes `rampart: …` on stderr and exit status 1.
private func report(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch {
        printError("\(error)")
        throw ExitCode(1)
    }
}

/// Reading a SCRAM user's password without it appearing on screen or in the process's arguments (a prompt on
/// the terminal even when standard input is a pipe, through `HiddenInput` like `rampart cert`'s key passwords).
enum UserPasswordInput {
    /// The first line of standard input (without its line ending).
    static func readStandardInput() throws -> SASLPassword {
        guard let line = readLine(strippingNewline: true) else {
            throw OfflineUsersError("--password-stdin: standard input is empty")
        }
        let password = line.hasSuffix("\r") ? String(line.dropLast()) : line
        guard !password.isEmpty else { throw OfflineUsersError("--password-stdin: the password is empty") }
        return SASLPassword(password)
    }

    /// Asks twice on the terminal with echo off.
    static func prompt(for user: String) throws -> SASLPassword {
        let tty = open("/dev/tty", O_RDWR | O_CLOEXEC)
        guard tty >= 0 else {
            throw OfflineUsersError("no terminal to ask for the password on; pipe it in with --password-stdin")
        }
        defer { close(tty) }
        let first = try readHidden(tty, prompt: "Password for \(user): ")
        let second = try readHidden(tty, prompt: "Again: ")
        guard first.bytes == second.bytes else { throw OfflineUsersError("the passwords do not match") }
        guard !first.isEmpty else { throw OfflineUsersError("the password is empty") }
        return first
    }

    private static func readHidden(_ tty: Int32, prompt: String) throws -> SASLPassword {
        SASLPassword(bytes: HiddenInput.readLine(from: tty, promptingOn: tty, prompt: prompt) ?? [])
    }
}
