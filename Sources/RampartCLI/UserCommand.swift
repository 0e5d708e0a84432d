import ArgumentParser
import Foundation
import RampartSASL
import RampartServer

#if canImport(Glibc)
import Glibc
#endif

/// `rampart user`: SCRAM users. For now offline only (`--config server.properties` of a stopped
/// broker), the way `kafka-storage format --add-scram` creates the first users; online management over
/// AlterUserScramCredentials comes later. Passwords come from a no-echo prompt or, with
/// `--password-stdin`, the first line of standard input — never from an argument.
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Manage SCRAM users (offline, in a stopped broker's data directory).",
        subcommands: [Add.self, Update.self, Delete.self, List.self, Describe.self]
    )

    /// Where the users are: the broker's `server.properties` (its `log.dirs`).
    struct StoreOptions: ParsableArguments {
        @Option(help: "The broker's server.properties; users go into the metadata store in its log.dirs (the broker must be stopped).")
        var config: String?

        @Option(name: .customLong("bootstrap-server"), help: "Not available yet: online user management arrives with AlterUserScramCredentials.")
        var bootstrapServer: String?

        func validate() throws {
            if bootstrapServer != nil {
                throw ValidationError("online user management (--bootstrap-server) is not available yet; stop the broker and use --config server.properties")
            }
            if config == nil { throw ValidationError("--config server.properties is required") }
        }

        /// Loads the broker configuration and locks its data directory (refused while the broker runs).
        func open() throws -> OfflineUsers {
            try OfflineUsers(config: BrokerConfig.load(path: config!))
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

        func credential(for user: String) throws -> SCRAMCredential {
            let password = try passwordStdin ? UserPasswordInput.readStandardInput() : UserPasswordInput.prompt(for: user)
            return try SCRAMCredential.generate(password: password, mechanism: SCRAMMechanism(name: mechanism.uppercased())!,
                                                iterations: iterations)
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a SCRAM credential for a new user (or a new mechanism of a user).")
        @Argument(help: "The user name (the principal will be User:<name>).") var name: String
        @OptionGroup var credential: CredentialOptions
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await setCredential(name: name, credential: credential, store: store, replace: false)
            print("Added \(credential.mechanism.uppercased()) credential for user \(name).")
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Replace a user's SCRAM credential (a new password).")
        @Argument(help: "The user name.") var name: String
        @OptionGroup var credential: CredentialOptions
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await setCredential(name: name, credential: credential, store: store, replace: true)
            print("Updated \(credential.mechanism.uppercased()) credential of user \(name).")
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a user's SCRAM credential (every mechanism without --mechanism).")
        @Argument(help: "The user name.") var name: String
        @Option(help: "Only this mechanism's credential.") var mechanism: String?
        @OptionGroup var store: StoreOptions

        func run() async throws {
            let scram = try mechanism.map { name in
                guard let scram = SCRAMMechanism(name: name.uppercased()) else {
                    throw ValidationError("--mechanism must be SCRAM-SHA-256 or SCRAM-SHA-512, not '\(name)'")
                }
                return scram
            }
            try await report { try await store.open().deleteCredentials(user: name, mechanism: scram) }
            print("Deleted \(scram?.name ?? "every") credential of user \(name).")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users and the mechanisms they have credentials for.")
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await report {
                let users = try await store.open().list()
                printTable(["USER", "MECHANISMS"], users.map { [$0.user, $0.credentials.map(\.mechanism).joined(separator: ",")] })
            }
        }
    }

    struct Describe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a user's credentials (mechanism and iterations; never keys).")
        @Argument(help: "The user name.") var name: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await report {
                guard let user = try await store.open().list().first(where: { $0.user == name }) else {
                    throw OfflineUsersError("no user '\(name)'")
                }
                printTable(["USER", "MECHANISM", "ITERATIONS"], user.credentials.map { [name, $0.mechanism, "\($0.iterations)"] })
            }
        }
    }
}

private func setCredential(name: String, credential: UserCommand.CredentialOptions, store: UserCommand.StoreOptions, replace: Bool) async throws {
    if let problem = OfflineUsers.validateUserName(name) { throw ValidationError(problem) }
    try await report {
        // Lock and open the store before asking for the password: a running broker is reported first.
        let users = try store.open()
        try await users.setCredential(user: name, credential: credential.credential(for: name), replace: replace)
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
/// the terminal even when standard input is a pipe; `rampart cert` has its own `PasswordInput` for key passwords).
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
        _ = prompt.withCString { write(tty, $0, strlen($0)) }
        var saved = termios()
        let haveTerminal = tcgetattr(tty, &saved) == 0
        if haveTerminal {
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(tty, TCSAFLUSH, &quiet)
        }
        defer {
            if haveTerminal { tcsetattr(tty, TCSAFLUSH, &saved) }
            _ = write(tty, "\n", 1)
        }
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while read(tty, &byte, 1) == 1 {
            if byte == UInt8(ascii: "\n") { break }
            if byte != UInt8(ascii: "\r") { bytes.append(byte) }
        }
        return SASLPassword(bytes: bytes)
    }
}
