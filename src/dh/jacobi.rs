//! The Jacobi symbol of public values, in variable time, on crypto-bigint's
//! limb operations.
//!
//! crypto-bigint 0.7 computes Jacobi symbols for fixed-size [`Uint`]s only
//! (not for [`BoxedUint`]), with a classic binary GCD that takes one bit
//! per step over the full width: for a 2048-bit modulus about as costly as
//! an exponentiation with a 225-bit exponent. This is the binary Jacobi
//! algorithm on the same arithmetic, made fast by what a constant-time
//! routine cannot do: it strips every factor of two of a difference in one
//! shift, it stops as soon as the smaller operand is zero, and it works
//! only on the limbs still in use, so that the operands shrink as it
//! proceeds (about a tenth of an exponentiation for ffdhe2048).
//!
//! The arithmetic is crypto-bigint's: [`UintRef`]'s `trailing_zeros_vartime`,
//! `unbounded_shr_assign_vartime`, `cmp_vartime` and `carrying_add_assign`
//! (subtraction as the addition of the complement, see below). Only the
//! symbol's sign rules are written here.
//!
//! [`Uint`]: crypto_bigint::Uint

use core::cmp::Ordering;
use core::mem;

use crypto_bigint::{BoxedUint, JacobiSymbol, Limb, Odd, Resize, UintRef};

/// The Jacobi symbol `(a | n)` for an odd `n`. For a prime `n` it is the
/// Legendre symbol: `One` for a quadratic residue, `MinusOne` for a
/// non-residue, `Zero` for a multiple of `n`.
///
/// Variable time in both arguments: for public values only.
pub(super) fn jacobi_vartime(a: &BoxedUint, n: &Odd<BoxedUint>) -> JacobiSymbol {
    // Invariants at the top of the loop: y is odd, x < 2^(64 len) and
    // y < 2^(64 len) share one precision, and the symbol sought is (x | y),
    // negated if `negate`.
    let mut y = n.as_ref().clone();
    // (a | n) = (a mod n | n); x < n then fits n's precision.
    let mut x = if a.cmp_vartime(n.as_ref()) == Ordering::Less {
        a.resize_unchecked(y.bits_precision())
    } else {
        a.rem_vartime(n.as_nz_ref())
            .resize_unchecked(y.bits_precision())
    };
    // !y, limb by limb: x - y = x + !y + 1 (mod 2^(64 len)). crypto-bigint's
    // subtraction hardens its borrow against the optimizer (a round trip
    // through memory for every limb), its addition is a plain carry chain:
    // subtracting by adding the complement takes half the time, and the
    // complement changes only when y does.
    let mut not_y = y.clone();
    complement(&mut not_y, &y, y.nlimbs());
    let mut negate = false;
    let mut len = y.nlimbs();
    loop {
        let xs = x.as_mut_uint_ref().leading_mut(len);
        let ys = y.as_uint_ref().leading(len);
        let zeros = xs.trailing_zeros_vartime();
        if zeros == xs.bits_precision() {
            // x = 0: y is gcd(a, n); the symbol is zero unless it is 1.
            break;
        }
        if zeros > 0 {
            xs.unbounded_shr_assign_vartime(zeros);
            // (2 | y) = -1 exactly when y = 3 or 5 (mod 8).
            if zeros & 1 == 1 && matches!(low_word(ys) & 7, 3 | 5) {
                negate = !negate;
            }
        }
        // Both odd. Reciprocity: (x | y) = (y | x), negated when both are
        // 3 (mod 4) (when x and y are not coprime both symbols are zero).
        if xs.cmp_vartime(ys) == Ordering::Less {
            if low_word(xs) & low_word(ys) & 3 == 3 {
                negate = !negate;
            }
            mem::swap(&mut x, &mut y);
            complement(&mut not_y, &y, len);
        }
        // (x | y) = (x - y | y) with x >= y, and x - y is even.
        x.as_mut_uint_ref()
            .leading_mut(len)
            .carrying_add_assign(not_y.as_uint_ref().leading(len), Limb::ONE);
        while len > 1 && is_top_zero(&x, len) && is_top_zero(&y, len) {
            len -= 1;
        }
    }
    let one = BoxedUint::one_with_precision(Limb::BITS);
    match (y.as_uint_ref().cmp_vartime(one.as_uint_ref()), negate) {
        (Ordering::Equal, false) => JacobiSymbol::One,
        (Ordering::Equal, true) => JacobiSymbol::MinusOne,
        _ => JacobiSymbol::Zero,
    }
}

/// Sets the first `len` limbs of `not_y` to the bitwise complement of
/// those of `y`.
fn complement(not_y: &mut BoxedUint, y: &BoxedUint, len: usize) {
    for (n, l) in not_y.as_mut_limbs().iter_mut().zip(y.as_limbs()).take(len) {
        *n = !*l;
    }
}

/// The least significant word of a non-empty integer.
fn low_word(x: &UintRef) -> crypto_bigint::Word {
    x.as_words().first().copied().unwrap_or(0)
}

/// Whether limb `len - 1` of `x` is zero.
fn is_top_zero(x: &BoxedUint, len: usize) -> bool {
    x.as_limbs().get(len - 1).is_none_or(|l| l.0 == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crypto_bigint::{U64, U256};

    fn boxed(x: u64, bits: u32) -> BoxedUint {
        BoxedUint::from_be_slice(&x.to_be_bytes(), bits).unwrap()
    }

    /// Every a < n for odd n < 200, against crypto-bigint's own routine on
    /// fixed-size integers, at one and at several limbs of precision.
    #[test]
    fn matches_crypto_bigint_on_small_values() {
        for n in (1u64..200).step_by(2) {
            let fixed_n = U64::from_u64(n).to_odd().unwrap();
            for a in 0..n {
                let expected = U64::from_u64(a).jacobi_symbol_vartime(&fixed_n);
                for bits in [64, 256] {
                    let got = jacobi_vartime(&boxed(a, bits), &boxed(n, bits).to_odd().unwrap());
                    assert_eq!(got as i8, expected as i8, "({a} | {n}) at {bits} bits");
                }
            }
        }
    }

    /// An upper argument of another precision, or not below n, is reduced
    /// first.
    #[test]
    fn reduces_other_precisions() {
        let n = boxed(61 * 71, 128).to_odd().unwrap();
        let fixed_n = U64::from_u64(61 * 71).to_odd().unwrap();
        for a in [
            0u64,
            1,
            2,
            59 * 67,
            59 * 67 + 2,
            61 * 71,
            61 * 71 * 5 + 2,
            u64::MAX,
        ] {
            let expected = U64::from_u64(a).jacobi_symbol_vartime(&fixed_n) as i8;
            for bits in [64, 128, 512] {
                assert_eq!(
                    jacobi_vartime(&boxed(a, bits), &n) as i8,
                    expected,
                    "{a} at {bits}"
                );
            }
        }
    }

    /// Random values modulo random odd moduli of up to 256 bits, composite
    /// ones included, against crypto-bigint's constant-time routine.
    #[test]
    fn matches_crypto_bigint_on_random_wide_values() {
        use rand_chacha::ChaCha20Rng;
        use rand_core::{Rng, SeedableRng};
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        let mut random = || U256::from_words([(); 4].map(|()| rng.next_u64()));
        let three = U256::from_u8(3);
        let mut seen = [0usize; 3];
        for i in 0..2000 {
            // Moduli of every length; one pair in five with the common
            // factor 3, whose symbol is zero.
            let (n, a) = if i % 5 == 0 {
                let m = random().shr_vartime(2 + i % 200) | U256::ONE;
                (
                    m.wrapping_mul(&three),
                    random().shr_vartime(2).wrapping_mul(&three),
                )
            } else {
                (random().shr_vartime(i % 200) | U256::ONE, random())
            };
            let n = n.to_odd().unwrap();
            let a = a.rem_vartime(n.as_nz_ref());
            let expected = a.jacobi_symbol(&n);
            let got = jacobi_vartime(
                &BoxedUint::from(&a),
                &BoxedUint::from(n.as_ref()).to_odd().unwrap(),
            );
            assert_eq!(got as i8, expected as i8, "({a} | {n})");
            seen[usize::try_from(expected as i8 + 1).unwrap()] += 1;
        }
        assert!(seen.iter().all(|&s| s > 100), "{seen:?}");
    }
}
