import FathomCore
import Foundation

/// Derives parameter specs (names, types, defaults) by encoding a default `Parameters()` value.
enum ParameterSchema {
    static func specs<P: FlowParameters>(of value: P) -> [ParameterSpec] {
        let recorder = SchemaRecorder()
        try? value.encode(to: recorder)  // a Parameters type whose encode throws leaves the specs recorded so far; a run decodes and checks every value anyway
        return recorder.specs.storage.map { spec in
            var spec = spec
            if let range = P.ranges[spec.name], spec.type == .int || spec.type == .double {
                spec.minimum = range.lowerBound
                spec.maximum = range.upperBound
            }
            return spec
        }
    }
}

/// Collects one spec per top-level key.
private final class SpecList {
    var storage: [ParameterSpec] = []
}

private final class SchemaRecorder: Encoder {
    let specs = SpecList()
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] = [:]

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(Recorder<Key>(specs: specs))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        fatalError("flow Parameters must be a struct with named fields")
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        fatalError("flow Parameters must be a struct with named fields")
    }

    struct Recorder<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let specs: SpecList
        var codingPath: [any CodingKey] = []

        func add(_ key: Key, _ type: ParameterType, _ value: JSONValue?) {
            specs.storage.append(ParameterSpec(name: key.stringValue, type: type, defaultValue: value))
        }

        mutating func encodeNil(forKey key: Key) throws { add(key, .json, .null) }

        mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws {
            if let value { try encode(value, forKey: key) } else { add(key, .bool, .null) }
        }
        mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws {
            if let value { try encode(value, forKey: key) } else { add(key, .string, .null) }
        }
        mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws {
            if let value { try encode(value, forKey: key) } else { add(key, .double, .null) }
        }
        mutating func encodeIfPresent(_ value: Float?, forKey key: Key) throws {
            if let value { try encode(value, forKey: key) } else { add(key, .double, .null) }
        }
        mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws {
            if let value { try encode(value, forKey: key) } else { add(key, .int, .null) }
        }
        mutating func encodeIfPresent(_ value: Int8?, forKey key: Key) throws {
            if let value { try encode(value, forKey: key) } else { add(key, .int, .null) }
        }
        mutating func encodeIfPresent(_ value: Int16?, forKey key: Key) throws {
            if let value { try encode(value, forKey: key) } else { add(key, .int, .null) }
        }
        mutating func encodeIfPresent(_ value: Int32?, forKey key: Key) throws {
            if let value { try encode(value, forKey: key) } else { add(key, .int, .null) }
        }
        mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws {
            if let value { try encode(value, forKey: key) } else { add(key, .int, .null) }
        }
        mutating func encodeIfPresent(_ value: UInt?, forKey key: Key) throws {
            if let value { try encode(value, forKey: key) } else { add(key, .int, .null) }
        }
        mutating func encodeIfPresent(_ value: UInt8?, forKey key: Key) throws {
            if let value { try encode(value, forKey: key) } else { add(key, .int, .null) }
        }
        mutating func encodeIfPresent(_ value: UInt16?, forKey key: Key) throws {
            if let value { try encode(value, forKey: key) } else { add(key, .int, .null) }
        }
        mutating func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws {
            if let value { try encode(value, forKey: key) } else { add(key, .int, .null) }
        }
        mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws {
            if let value { try encode(value, forKey: key) } else { add(key, .int, .null) }
        }

        /// Optional fields whose default is nil: typed by their wrapped type, with a null default.
        mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws {
            if let value { return try encode(value, forKey: key) }
            let type: ParameterType
            switch T.self {
            case is String.Type: type = .string
            case is Bool.Type: type = .bool
            case is Int.Type, is Int64.Type, is Int32.Type, is UInt.Type, is UInt64.Type: type = .int
            case is Double.Type, is Float.Type: type = .double
            default: type = .json
            }
            add(key, type, .null)
        }
        mutating func encode(_ value: Bool, forKey key: Key) throws { add(key, .bool, .bool(value)) }
        mutating func encode(_ value: String, forKey key: Key) throws { add(key, .string, .string(value)) }
        mutating func encode(_ value: Double, forKey key: Key) throws { add(key, .double, .double(value)) }
        mutating func encode(_ value: Float, forKey key: Key) throws { add(key, .double, .double(Double(value))) }
        mutating func encode(_ value: Int, forKey key: Key) throws { add(key, .int, .int(Int64(value))) }
        mutating func encode(_ value: Int8, forKey key: Key) throws { add(key, .int, .int(Int64(value))) }
        mutating func encode(_ value: Int16, forKey key: Key) throws { add(key, .int, .int(Int64(value))) }
        mutating func encode(_ value: Int32, forKey key: Key) throws { add(key, .int, .int(Int64(value))) }
        mutating func encode(_ value: Int64, forKey key: Key) throws { add(key, .int, .int(value)) }
        mutating func encode(_ value: UInt, forKey key: Key) throws { try encode(UInt64(value), forKey: key) }
        mutating func encode(_ value: UInt8, forKey key: Key) throws { add(key, .int, .int(Int64(value))) }
        mutating func encode(_ value: UInt16, forKey key: Key) throws { add(key, .int, .int(Int64(value))) }
        mutating func encode(_ value: UInt32, forKey key: Key) throws { add(key, .int, .int(Int64(value))) }
        mutating func encode(_ value: UInt64, forKey key: Key) throws {
            if let whole = Int64(exactly: value) { add(key, .int, .int(whole)) } else { add(key, .double, .double(Double(value))) }
        }

        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            // Anything else (arrays, nested structs, enums with raw values) is passed as JSON.
            let data = try JSONEncoder().encode(value)
            let json = try JSONDecoder().decode(JSONValue.self, from: data)
            switch json {
            case .string: add(key, .string, json)
            case .bool: add(key, .bool, json)
            case .int: add(key, .int, json)
            case .double: add(key, .double, json)
            default: add(key, .json, json)
            }
        }

        mutating func nestedContainer<NestedKey: CodingKey>(
            keyedBy keyType: NestedKey.Type, forKey key: Key
        ) -> KeyedEncodingContainer<NestedKey> {
            fatalError("nested containers are encoded through encode(_:forKey:)")
        }

        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            fatalError("nested containers are encoded through encode(_:forKey:)")
        }

        mutating func superEncoder() -> any Encoder { fatalError("flow Parameters cannot use superEncoder") }
        mutating func superEncoder(forKey key: Key) -> any Encoder { fatalError("flow Parameters cannot use superEncoder") }
    }
}
