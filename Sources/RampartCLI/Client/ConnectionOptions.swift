import ArgumentParser
import Foundation
import KafkaClient

/// `--bootstrap-server` and `--command-config`, shared by every client command (as in Kafka's tools).
struct ConnectionOptions: ParsableArguments {
    @Option(name: .customLong("bootstrap-server"),
            help: "Comma-separated host:port of brokers to bootstrap from.")
    var bootstrapServer: String = "127.0.0.1:9092"

    @Option(name: .customLong("command-config"),
            help: "A client properties file (security.protocol, ssl.ca.location, ssl.certificate.location, ssl.key.location, client.id, …).")
    var commandConfig: String?

    /// The properties of `--command-config` (empty without it).
    func properties() throws -> [String: String] {
        guard let commandConfig else { return [:] }
        let text: String
        do {
            text = try String(contentsOfFile: commandConfig, encoding: .utf8)
        } catch {
            throw KafkaClientError.configuration("cannot read --command-config \(commandConfig): \(error.localizedDescription)")
        }
        return try JavaProperties.parse(text, source: commandConfig)
    }

    /// The client configuration: the file's properties, then `--bootstrap-server` over them.
    func clientConfig(extra: [String: String] = [:]) throws -> ClientConfig {
        var props = try properties()
        props.merge(extra) { $1 }
        var config = try ClientConfig(properties: props, base: ClientConfig(clientId: "rampart-cli"))
        config.bootstrapServers = try BrokerAddress.parseList(bootstrapServer, key: "--bootstrap-server")
        return config
    }
}

/// Runs a client command body with a cluster built from the connection options (closed afterwards):
/// any error becomes one line `rampart: …` on stderr and exit status 1.
func runClientCommand(
    _ connection: ConnectionOptions, extra: [String: String] = [:], _ body: (KafkaCluster) async throws -> Void
) async throws {
    do {
        let cluster = KafkaCluster(config: try connection.clientConfig(extra: extra))
        do {
            try await body(cluster)
        } catch {
            await cluster.close()
            throw error
        }
        await cluster.close()
    } catch let error as ExitCode {
        throw error
    } catch let error as CleanExit {
        throw error
    } catch {
        printError("\(error)")
        throw ExitCode(1)
    }
}

/// Writes `rampart: message` to stderr.
func printError(_ message: String) {
    FileHandle.standardError.write(Data("rampart: \(message)\n".utf8))
}

/// Writes a line to stderr (warnings and summaries that must not mix with records on stdout).
func printStderr(_ message: String) {
    FileHandle.standardError.write(Data("\(message)\n".utf8))
}

/// Parses `key=value` pairs given to a repeated option; `option` names it in errors.
func parseKeyValues(_ pairs: [String], option: String) throws -> [String: String] {
    var result: [String: String] = [:]
    for pair in pairs {
        guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
            throw ValidationError("\(option) '\(pair)' is not key=value")
        }
        let key = String(pair[..<equals])
        guard result[key] == nil else { throw ValidationError("\(option) '\(key)' is given more than once") }
        result[key] = String(pair[pair.index(after: equals)...])
    }
    return result
}

/// Prints rows as left-aligned columns separated by two spaces, like Kafka's tools.
func printTable(_ header: [String], _ rows: [[String]]) {
    var widths = header.map(\.count)
    for row in rows { for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) } }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { index, cell in
            index == cells.count - 1 ? cell : cell.padding(toLength: widths[index] + 2, withPad: " ", startingAt: 0)
        }.joined()
    }
    print(line(header))
    for row in rows { print(line(row)) }
}
