import ArgumentParser
import RampartAuthorizer

/// `rampart audit verify FILE`: checks the audit log's hash chain.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Tools for the audit log (rampart.audit.log.path).",
        subcommands: [Verify.self]
    )

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check that no line of an audit log was edited, dropped, inserted or reordered (exit status 1 if one was).",
            discussion: "Each line carries `prev`, the SHA-256 of the line before it (64 zeros for the first line).")
        @Argument(help: "The audit log file.") var file: String

        func run() async throws {
            let result: (lines: Int, problems: [String])
            do {
                result = try AuditLog.verify(path: file)
            } catch {
                printError("\(error)")
                throw ExitCode(1)
            }
            for problem in result.problems { print("\(file): \(problem)") }
            if result.problems.isEmpty {
                print("\(file): \(result.lines) events, chain intact")
            } else {
                print("\(file): \(result.lines) events, \(result.problems.count) broken link\(result.problems.count == 1 ? "" : "s")")
                throw ExitCode(1)
            }
        }
    }
}
