import Logging
import NIOCore
import NIOEmbedded
import RampartStorage
import Synchronization
import Testing
@testable import RampartServer

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The listener's back-off on the server channel: pauses when accept fails for want of descriptors or the
/// guard's budget is spent, logs once, and resumes on its timer when descriptors are free.
@Suite struct DescriptorBackoffHandlerTests {
    /// Log lines kept for inspection.
    final class CapturedLog: Sendable {
        let lines = Mutex<[(Logger.Level, String)]>([])
        var logger: Logger {
            Logger(label: "test") { _ in CapturingHandler(log: self) }
        }
        func count(_ level: Logger.Level, containing text: String) -> Int {
            lines.withLock { $0.filter { $0.0 == level && $0.1.contains(text) }.count }
        }
    }

    struct CapturingHandler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let fields = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            log.lines.withLock { $0.append((event.level, "\(event.message) \(fields)")) }
        }
    }

    /// The descriptors the fake process has open.
    final class Descriptors: Sendable {
        private let count: Mutex<Int>
        init(open: Int) { count = Mutex(open) }
        var open: Int {
            get { count.withLock { $0 } }
            set { count.withLock { $0 = newValue } }
        }
    }

    /// A server channel stand-in with the handler, the accepting switches it made, and the guard's count.
    final class Harness {
        let channel = EmbeddedChannel()
        let descriptors: Descriptors
        let log = CapturedLog()
        var switches: [Bool] = []
        let handler: DescriptorBackoffHandler

        init(open initial: Int) throws {
            let descriptors = Descriptors(open: initial)
            self.descriptors = descriptors
            let descriptorGuard = ConnectionDescriptorGuard(limit: 256, floor: 32, openCount: { descriptors.open })
            var recorded: (Bool) -> Void = { _ in }
            handler = DescriptorBackoffHandler(descriptorGuard: descriptorGuard, listener: "PLAINTEXT", logger: log.logger,
                                           recheckInterval: .milliseconds(250), setAccepting: { _, on in recorded(on) })
            recorded = { [unowned self] on in self.switches.append(on) }
            try channel.pipeline.syncOperations.addHandler(handler)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9092)).wait()
        }

        /// An accepted connection reaching the server pipeline (its descriptor already counted).
        func accept() throws {
            descriptors.open += 1
            try channel.writeInbound(EmbeddedChannel() as Channel)
            #expect(try channel.readInbound(as: Channel.self) != nil, "the accepted connection goes on to NIO's accept handler")
        }

        func advance(_ milliseconds: Int64) {
            channel.embeddedEventLoop.advanceTime(by: .milliseconds(milliseconds))
        }
    }

    @Test func acceptFailingWithEMFILEPausesOnceAndResumesWhenDescriptorsAreFree() throws {
        let harness = try Harness(open: 256)
        harness.channel.pipeline.fireErrorCaught(IOError(errnoCode: EMFILE, reason: "accept"))
        // NIO retries the accept while the socket is readable: a second failure is not logged anew.
        harness.channel.pipeline.fireErrorCaught(IOError(errnoCode: EMFILE, reason: "accept"))
        #expect(harness.switches == [false])
        #expect(harness.handler.pausedBecause == .acceptFailed(errno: EMFILE))
        #expect(harness.log.count(.warning, containing: "stopped accepting connections") == 1)
        #expect(harness.log.count(.warning, containing: "file.descriptors.limit=256") == 1)
        #expect(harness.log.count(.warning, containing: "EMFILE") == 1)
        // The error was handled: it does not travel on through the pipeline.
        #expect(throws: Never.self) { try harness.channel.throwIfErrorCaught() }

        // Still no room at the next checks: stays paused.
        harness.advance(250)
        harness.advance(250)
        #expect(harness.switches == [false])
        // Connections closed: 200 open, room again at the next check.
        harness.descriptors.open = 200
        harness.advance(249)
        #expect(harness.switches == [false])
        harness.advance(1)
        #expect(harness.switches == [false, true])
        #expect(harness.handler.pausedBecause == nil)
        #expect(harness.log.count(.info, containing: "accepting connections again") == 1)
        // No timer left running.
        harness.advance(1000)
        #expect(harness.switches == [false, true])
        _ = try harness.channel.finish()
    }

    @Test func theBudgetSpentByAnAcceptPausesAndConnectionsClosingResume() throws {
        let harness = try Harness(open: 220)
        try harness.accept()  // 221 open
        try harness.accept()  // 222
        try harness.accept()  // 223: one more fits under 256 - 32
        #expect(harness.switches.isEmpty)
        try harness.accept()  // 224: the next would be refused
        #expect(harness.switches == [false])
        #expect(harness.handler.pausedBecause == .budgetSpent)
        #expect(harness.log.count(.warning, containing: "file.descriptors.open=224") == 1)
        harness.descriptors.open = 223  // one connection closed
        harness.advance(250)
        #expect(harness.switches == [false, true])
        #expect(harness.log.count(.info, containing: "accepting connections again") == 1)
        _ = try harness.channel.finish()
    }

    @Test func aResumeThatFailsAtOnceIsNotLoggedAgainUntilAConnectionIsAccepted() throws {
        let harness = try Harness(open: 100)
        // The guard sees room (its limit is not the one accept runs into), accept keeps failing.
        for _ in 0..<3 {
            harness.channel.pipeline.fireErrorCaught(IOError(errnoCode: ENFILE, reason: "accept"))
            harness.advance(250)
        }
        #expect(harness.switches == [false, true, false, true, false, true])
        #expect(harness.log.count(.warning, containing: "stopped accepting connections") == 1)
        #expect(harness.log.count(.warning, containing: "ENFILE") == 1)
        #expect(harness.log.count(.info, containing: "accepting connections again") == 1)
        // A connection accepted ends the shortage: the next one is logged again.
        try harness.accept()
        harness.channel.pipeline.fireErrorCaught(IOError(errnoCode: EMFILE, reason: "accept"))
        #expect(harness.log.count(.warning, containing: "stopped accepting connections") == 2)
        _ = try harness.channel.finish()
    }

    @Test func otherErrorsPassThroughAndClosingStopsTheTimer() throws {
        let harness = try Harness(open: 256)
        harness.channel.pipeline.fireErrorCaught(IOError(errnoCode: ECONNABORTED, reason: "accept"))
        #expect(throws: IOError.self) { try harness.channel.throwIfErrorCaught() }
        #expect(harness.switches.isEmpty)
        harness.channel.pipeline.fireErrorCaught(IOError(errnoCode: EMFILE, reason: "accept"))
        #expect(harness.switches == [false])
        _ = try harness.channel.finish()
        harness.descriptors.open = 10
        harness.advance(1000)
        #expect(harness.switches == [false], "a closed listener is not switched back on")
    }

    @Test func theGuardSaysWhetherOneMoreConnectionFitsWithoutAdmittingIt() {
        let open = Mutex(223)
        let descriptorGuard = ConnectionDescriptorGuard(limit: 256, floor: 32, openCount: { open.withLock { $0 } })
        #expect(descriptorGuard.hasRoom() == (true, 223))
        #expect(descriptorGuard.hasRoom() == (true, 223), "asking admits nothing")
        open.withLock { $0 = 224 }
        #expect(descriptorGuard.hasRoom() == (false, 224))
        #expect(descriptorGuard.admit() == (true, 224), "the connection holding the 224th descriptor is still admitted")
        #expect(ConnectionDescriptorGuard(limit: Int.max, openCount: { nil }).hasRoom().room)
    }
}
