import ArgumentParser

/// The `rampart` command: the broker (`serve`) and the operator tools.
public struct RampartCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "rampart",
        abstract: "Rampart: a hardened, Kafka-compatible message broker.",
        subcommands: [ServeCommand.self, TopicCommand.self, ProduceCommand.self, ConsumeCommand.self, GroupCommand.self, UserCommand.self, AclCommand.self, PolicyCommand.self, AuditCommand.self, CertCommand.self, BenchCommand.self]
    )

    public init() {}
}
