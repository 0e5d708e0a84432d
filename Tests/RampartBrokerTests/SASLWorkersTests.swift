import Dispatch
import NIOCore
@testable import RampartBroker
import RampartSASL
import Testing

/// Mechanism steps run on SASL threads, not on Swift's cooperative pool.
@Suite(.timeLimit(.minutes(1))) struct SASLWorkersTests {
    /// A mechanism whose every step blocks its thread until the test releases it, like a long key
    /// derivation.
    final class BlockingMechanism: SASLServerMechanism, @unchecked Sendable {
        let mechanism = SASLMechanism.plain
        let release: DispatchSemaphore
        init(release: DispatchSemaphore) { self.release = release }
        func start(clientFirst: [UInt8]) -> SASLServerStep {
            release.wait()
            return .challenge(clientFirst)
        }
        func step(response: [UInt8]) -> SASLServerStep { start(clientFirst: response) }
    }

    /// More blocked steps than the machine has cores (so more than the cooperative pool's threads):
    /// tasks on the cooperative pool still run, and every step completes once released, in its own
    /// connection's answer.
    @Test func blockedStepsLeaveTheCooperativePoolFree() async throws {
        let workers = SASLWorkers(threads: 1)
        let release = DispatchSemaphore(value: 0)
        let count = System.coreCount + 2
        let steps = (0..<count).map { index in
            Task {
                let mechanism = BlockingMechanism(release: release)
                return await workers.step(.init(mechanism: mechanism), started: false, token: [UInt8(index)])
            }
        }
        // Every cooperative thread would be blocked if the steps ran there; this task needs one.
        #expect(await Task.detached { 42 }.value == 42)
        for _ in 0..<count { release.signal() }
        for (index, step) in steps.enumerated() {
            #expect(await step.value == .challenge([UInt8(index)]))
        }
    }
}
