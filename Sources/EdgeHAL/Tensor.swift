/// A tensor's extent in ggml order: `ne[0]` is the innermost (contiguous) dimension.
public struct Shape: Hashable, Sendable, CustomStringConvertible {
    public var ne: (Int, Int, Int, Int)

    public init(_ ne0: Int, _ ne1: Int = 1, _ ne2: Int = 1, _ ne3: Int = 1) {
        ne = (ne0, ne1, ne2, ne3)
    }

    public init(_ dims: [Int]) {
        precondition(dims.count >= 1 && dims.count <= 4, "a shape has 1 to 4 dimensions")
        let d = dims + Array(repeating: 1, count: 4 - dims.count)
        ne = (d[0], d[1], d[2], d[3])
    }

    public subscript(_ axis: Int) -> Int {
        switch axis {
        case 0: return ne.0
        case 1: return ne.1
        case 2: return ne.2
        case 3: return ne.3
        default: return 1
        }
    }

    public var dims: [Int] { [ne.0, ne.1, ne.2, ne.3] }
    public var count: Int { ne.0 * ne.1 * ne.2 * ne.3 }
    /// Number of rows: everything but the innermost dimension.
    public var rows: Int { ne.1 * ne.2 * ne.3 }

    public static func == (a: Shape, b: Shape) -> Bool { a.dims == b.dims }
    public func hash(into h: inout Hasher) { h.combine(dims) }

    public var description: String {
        var d = dims
        while d.count > 1 && d.last == 1 { d.removeLast() }
        return d.map(String.init).joined(separator: "x")
    }
}

/// Type and shape of a contiguous tensor.
public struct TensorDesc: Hashable, Sendable, CustomStringConvertible {
    public var type: DType
    public var shape: Shape

    public init(_ type: DType, _ shape: Shape) {
        self.type = type
        self.shape = shape
    }

    /// Bytes of one row (`ne[0]` values).
    public var rowBytes: Int { type.rowBytes(shape[0]) }
    public var byteCount: Int { rowBytes * shape.rows }
    public var description: String { "\(type.rawValue)[\(shape)]" }
}
