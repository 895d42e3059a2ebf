//! Small dense linear algebra for 6×6 systems (Jacobian normal equations), without allocation.

pub type Vec6 = [f64; 6];
pub type Mat6 = [[f64; 6]; 6];

/// Cholesky factor `L` (lower) of a symmetric positive-definite matrix; `None` if it is not positive definite.
#[must_use]
pub fn cholesky6(a: &Mat6) -> Option<Mat6> {
    let mut l = [[0.0; 6]; 6];
    for i in 0..6 {
        for j in 0..=i {
            let mut sum = a[i][j];
            for k in 0..j {
                sum -= l[i][k] * l[j][k];
            }
            if i == j {
                if sum <= 0.0 || !sum.is_finite() {
                    return None;
                }
                l[i][i] = sum.sqrt();
            } else {
                l[i][j] = sum / l[j][j];
            }
        }
    }
    Some(l)
}

/// Solves `L Lᵀ x = b` given the Cholesky factor `L`.
#[must_use]
pub fn cholesky_solve6(l: &Mat6, b: &Vec6) -> Vec6 {
    let mut y = [0.0; 6];
    for i in 0..6 {
        let mut sum = b[i];
        for k in 0..i {
            sum -= l[i][k] * y[k];
        }
        y[i] = sum / l[i][i];
    }
    let mut x = [0.0; 6];
    for i in (0..6).rev() {
        let mut sum = y[i];
        for k in i + 1..6 {
            sum -= l[k][i] * x[k];
        }
        x[i] = sum / l[i][i];
    }
    x
}

#[must_use]
pub fn norm6(v: &Vec6) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_a_spd_system() {
        // A = M Mᵀ + I is symmetric positive definite.
        let m: Mat6 = std::array::from_fn(|i| std::array::from_fn(|j| ((i * 7 + j * 3) % 5) as f64 - 2.0));
        let a: Mat6 = std::array::from_fn(|i| {
            std::array::from_fn(|j| (0..6).map(|k| m[i][k] * m[j][k]).sum::<f64>() + if i == j { 1.0 } else { 0.0 })
        });
        let b: Vec6 = [1.0, -2.0, 0.5, 3.0, 0.0, -1.0];
        let l = cholesky6(&a).unwrap();
        let x = cholesky_solve6(&l, &b);
        for i in 0..6 {
            let ax: f64 = (0..6).map(|j| a[i][j] * x[j]).sum();
            assert!((ax - b[i]).abs() < 1e-9, "row {i}: {ax} vs {}", b[i]);
        }
        let mut not_spd = a;
        not_spd[0][0] = -1.0;
        assert!(cholesky6(&not_spd).is_none());
    }
}
