import Testing
@testable import RampartStorage

@Test func smoke() { #expect(Bool(true)) }
