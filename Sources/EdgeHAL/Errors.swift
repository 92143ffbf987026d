/// Every failure EdgeHAL reports: values with a message for the user, never a crash.
public enum EdgeHALError: Error, Equatable, CustomStringConvertible {
    case invalidGraph(String)
    case unsupported(String)
    case outOfBounds(String)
    case selection(String)
    case backend(String)
    case io(String)

    public var description: String {
        switch self {
        case .invalidGraph(let m): return "invalid graph: \(m)"
        case .unsupported(let m): return "unsupported: \(m)"
        case .outOfBounds(let m): return "out of bounds: \(m)"
        case .selection(let m): return m
        case .backend(let m): return "backend error: \(m)"
        case .io(let m): return m
        }
    }
}
