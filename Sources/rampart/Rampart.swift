import ArgumentParser
import RampartCLI

/// The `rampart` executable: the root command and its subcommands live in RampartCLI.
@main
struct Rampart: AsyncParsableCommand {
    static let configuration = RampartCommand.configuration
}
