import ArgumentParser
import Foundation
import Logging
import RampartServer
import RampartStorage

#if canImport(Glibc)
import Glibc
#endif

/// `rampart serve --config server.properties`: runs a broker until SIGTERM or SIGINT; SIGHUP reloads
/// the TLS keystores, truststores and CRLs, and the ACL policy files.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run a broker with a Kafka server.properties file."
    )

    @Option(name: .long, help: "The broker configuration (Kafka server.properties keys).")
    var config: String

    func run() async throws {
        let brokerConfig: BrokerConfig
        do {
            brokerConfig = try BrokerConfig.load(path: config)
        } catch {
            throw ValidationError("\(error)")
        }
        do {
            try LoggingSetup.bootstrap(format: brokerConfig.string("rampart.log.format") ?? "text",
                                       level: brokerConfig.string("rampart.log.level") ?? "info",
                                       overrides: brokerConfig.string("rampart.log.level.overrides"))
        } catch {
            throw ValidationError("\(error)")
        }
        let logger = Logger(label: "rampart.server")
        // Kafka's operations guide asks for a high descriptor limit (100,000 or more): take the hard limit.
        let limit = FileDescriptorLimit.raiseSoftLimitToHard()
        if let error = limit.errno {
            logger.warning("cannot raise the file descriptor limit (RLIMIT_NOFILE) to the hard limit",
                           metadata: ["soft": "\(limit.before)", "hard": "\(FileDescriptorLimit.current().hard)", "errno": "\(error)"])
        } else {
            logger.info("file descriptor limit (RLIMIT_NOFILE)", metadata: ["soft.before": "\(limit.before)", "soft": "\(limit.after)"])
        }
        let server = BrokerServer(config: brokerConfig, logger: logger)
        let stop = SignalWaiter(signals: [SIGTERM, SIGINT])
        do {
            try await server.start()
        } catch {
            logger.critical("start-up failed: \(error)")
            await server.shutdown(timeout: .seconds(1))
            throw ExitCode(1)
        }
        let reload = SignalHandler(signal: SIGHUP) {
            logger.info("received SIGHUP: reloading TLS files and ACL policy files")
            server.reloadTLS(force: true)
            server.reloadPolicy(force: true)
        }
        let signal = await stop.wait()
        reload.cancel()
        logger.info("received signal \(signal)")
        await server.shutdown()
    }
}

/// Runs `action` on a Dispatch queue (off the event loops) each time `signal` arrives.
final class SignalHandler: @unchecked Sendable {  // the source is set once in init
    private let source: DispatchSourceSignal

    init(signal number: Int32, action: @escaping @Sendable () -> Void) {
        signal(number, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler(handler: action)
        source.resume()
    }

    func cancel() { source.cancel() }
}

/// Waits for one of a set of signals (delivered through Dispatch, not an async-unsafe handler).
final class SignalWaiter: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Int32, Never>?
    private var received: Int32?

    init(signals: [Int32]) {
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in self?.fire(number) }
            source.resume()
            sources.append(source)
        }
    }

    private func fire(_ number: Int32) {
        lock.lock()
        let waiting = continuation
        continuation = nil
        if waiting == nil { received = number }
        lock.unlock()
        waiting?.resume(returning: number)
    }

    func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            lock.lock()
            if let received {
                lock.unlock()
                continuation.resume(returning: received)
                return
            }
            self.continuation = continuation
            lock.unlock()
        }
    }
}
