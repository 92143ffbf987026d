extension Sequence where Element == UInt8 {
    /// Two lower-case hex digits a byte, in order: how EdgeHAL writes digests (SHA-256 of models,
    /// plugins and kernel binaries), keys and device UUIDs.
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(underestimatedCount * 2)
        for byte in self { out += [digits[Int(byte >> 4)], digits[Int(byte & 15)]] }
        return String(decoding: out, as: UTF8.self)
    }
}
