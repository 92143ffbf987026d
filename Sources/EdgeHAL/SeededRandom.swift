#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small deterministic generator (SplitMix64) shared by test data, sampling and
/// benchmarks so that every run with a seed repeats exactly.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    public mutating func uniform(_ lo: Float, _ hi: Float, count: Int) -> [Float] {
        (0..<count).map { _ in lo + (hi - lo) * Float(unit()) }
    }

    /// Standard normal values (Box–Muller).
    public mutating func normal(count: Int, scale: Float = 1) -> [Float] {
        (0..<count).map { _ in
            let u = max(unit(), 1e-300), v = unit()
            return scale * Float((-2 * log(u)).squareRoot() * cos(2 * Double.pi * v))
        }
    }

    public mutating func int(below n: Int) -> Int { Int(next() % UInt64(n)) }
}

