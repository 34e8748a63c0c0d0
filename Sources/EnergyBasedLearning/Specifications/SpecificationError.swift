/// An impossible setting of a specification, named by its run-file key (`rule.beta`); the run-file
/// reader turns the key into the file and line, or the command-line flag, it came from.
public struct SpecificationError: Error, Equatable, CustomStringConvertible {
    /// The run-file key: `section.key`, or a top-level key.
    public var key: String
    /// What is wrong, as the end of a sentence that starts with the key.
    public var message: String

    public init(key: String, message: String) {
        self.key = key
        self.message = message
    }

    /// "expected …, got …".
    public init(key: String, expected: String, value: CustomStringConvertible) {
        self.init(key: key, message: "expected \(expected), got \(value)")
    }

    public var description: String { "\(key): \(message)" }
}

/// Throws ``SpecificationError`` `key: expected …, got value` unless `condition` holds.
func require(_ condition: Bool, _ key: String, _ expected: @autoclosure () -> String, _ value: @autoclosure () -> CustomStringConvertible) throws {
    if !condition { throw SpecificationError(key: key, expected: expected(), value: value()) }
}
