import EdgeHAL

/// Every failure of the app API, by the layer that failed; each case carries a message for the user.
public enum EdgeHALKitError: Error, Equatable, CustomStringConvertible {
    /// The model could not be found, fetched, verified or opened.
    case model(String)
    /// No device matched the backend choice, or one could not be opened.
    case selection(String)
    /// The prompt does not fit: it is empty, or the context has no room for it.
    case prompt(String)
    /// The model's chat template is not one EdgeHAL renders.
    case chat(String)
    /// A device failed while building or running the model's graphs; the message names the
    /// backend and the ops of the failing partition.
    case backend(String)

    public var description: String {
        switch self {
        case .model(let m): return "model: \(m)"
        case .selection(let m): return "backend selection: \(m)"
        case .prompt(let m): return "prompt: \(m)"
        case .chat(let m): return "chat: \(m)"
        case .backend(let m): return m
        }
    }

    static func model<T>(_ body: () throws -> T) throws(EdgeHALKitError) -> T {
        do { return try body() } catch { throw .model("\(error)") }
    }

    static func selection<T>(_ body: () throws -> T) throws(EdgeHALKitError) -> T {
        do { return try body() } catch { throw .selection("\(error)") }
    }

    static func backend<T>(_ body: () throws -> T) throws(EdgeHALKitError) -> T {
        do { return try body() } catch let e as EdgeHALError {
            throw .backend(e.description)
        } catch { throw .backend("\(error)") }
    }
}
