import RampartProperties

/// Kafka client properties files (`--command-config`): the project's one Java `.properties` parser
/// (`RampartProperties.PropertiesFile`), with errors as `KafkaClientError.configuration`.
public enum JavaProperties {
    /// Parses properties text. `source` names the file in errors. A key given twice is an error naming it.
    public static func parse(_ text: String, source: String = "properties") throws -> [String: String] {
        do {
            return try PropertiesFile.parse(text, source: source).dictionary
        } catch let error as PropertiesError {
            throw KafkaClientError.configuration(error.message)
        }
    }
}
