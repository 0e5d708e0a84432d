import Foundation
import KafkaProtocolCodegen

// kafka-protocol-generator <schemaDir> <outDir> [<testSupportDir>]
//
// Writes the KafkaProtocol sources into <outDir> and, when given, the round-trip test support into
// <testSupportDir> (normally Tests/KafkaProtocolTests/Generated).
let arguments = CommandLine.arguments.dropFirst()
guard arguments.count == 2 || arguments.count == 3 else {
    FileHandle.standardError.write(Data("usage: kafka-protocol-generator <schemaDir> <outDir> [<testSupportDir>]\n".utf8))
    exit(2)
}
let list = Array(arguments)
do {
    let output = try KafkaProtocolCodegen.generate(schemaDirectory: URL(fileURLWithPath: list[0]))
    try KafkaProtocolCodegen.write(output.sources, to: URL(fileURLWithPath: list[1]))
    if list.count == 3 {
        try KafkaProtocolCodegen.write(output.testSupport, to: URL(fileURLWithPath: list[2]))
    }
    print("kafka-protocol-generator: \(output.sources.count) source files, \(output.testSupport.count) test-support files")
} catch {
    FileHandle.standardError.write(Data("kafka-protocol-generator: \(error)\n".utf8))
    exit(1)
}
