//! Timestamps: the one wire format (RFC 3339, UTC, `Z`, microseconds) and the lenient input parser.

use chrono::{DateTime, Datelike, NaiveDateTime, SecondsFormat, TimeDelta, Timelike, Utc};

/// A point in time as the contract stores and sends it (microsecond precision).
pub type Timestamp = DateTime<Utc>;

/// The current time, truncated to whole microseconds (what the wire can carry).
pub fn now() -> Timestamp {
    let t = Utc::now();
    t - TimeDelta::nanoseconds(i64::from(t.timestamp_subsec_nanos() % 1_000))
}

/// The next timestamp of a room: now, or one microsecond after `last` if the clock has not
/// moved past it. CONTRACT: stored timestamps strictly increase within a room.
pub fn next_after(last: Option<Timestamp>) -> Timestamp {
    let now = now();
    match last {
        Some(last) if now <= last => last + TimeDelta::microseconds(1),
        _ => now,
    }
}

/// Formats as `2024-01-01T00:00:00.123456Z`: digit by digit for years 0 to 9999 (chrono's
/// formatting goes through `fmt`, and each stored message formats its timestamp twice: see
/// docs/performance.md), by chrono otherwise.
pub fn format(t: &Timestamp) -> String {
    // The date and time once: each getter of a `DateTime` works them out again.
    let (date, clock) = (t.date_naive(), t.time());
    let micros = clock.nanosecond() / 1_000;
    let Ok(year) = u32::try_from(date.year()) else {
        return t.to_rfc3339_opts(SecondsFormat::Micros, true);
    };
    if year > 9999 || micros > 999_999 {
        return t.to_rfc3339_opts(SecondsFormat::Micros, true); // a leap second, too
    }
    let mut out = String::with_capacity(27);
    let fields = [
        (year, 4, '-'),
        (date.month(), 2, '-'),
        (date.day(), 2, 'T'),
        (clock.hour(), 2, ':'),
        (clock.minute(), 2, ':'),
        (clock.second(), 2, '.'),
        (micros, 6, 'Z'),
    ];
    for (value, width, then) in fields {
        for place in (0..width).rev() {
            let digit = value / 10u32.pow(place) % 10;
            out.push(char::from_digit(digit, 10).unwrap_or('0'));
        }
        out.push(then);
    }
    out
}

/// Parses RFC 3339 (`Z` or an offset) or the seed's naive form (read as UTC), any fraction.
pub fn parse(s: &str) -> Option<Timestamp> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(|n| n.and_utc())
}

/// serde `with` module for `Timestamp` fields.
pub mod serde_ts {
    use super::*;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        parse(&s).ok_or_else(|| serde::de::Error::custom("invalid timestamp"))
    }
}

/// serde `with` module for `Option<Timestamp>` fields.
pub mod serde_ts_opt {
    use super::*;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&format(t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        match Option::<std::borrow::Cow<'de, str>>::deserialize(d)? {
            Some(s) => parse(&s)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom("invalid timestamp")),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digit-by-digit format is chrono's, over dates from year 0 to 9999 and beyond.
    #[test]
    fn formats_as_chrono_does() {
        let mut us: i64 = -62_167_219_200_000_000; // 0000-01-01T00:00:00Z
        let step = 7_919_191_919_191; // about 92 days, and never a whole second
        while us < 260_000_000_000_000_000 {
            let t = DateTime::from_timestamp_micros(us).unwrap();
            assert_eq!(format(&t), t.to_rfc3339_opts(SecondsFormat::Micros, true), "{us}");
            us += step;
        }
        let t = DateTime::from_timestamp_micros(-62_167_219_200_000_001).unwrap();
        assert_eq!(format(&t), t.to_rfc3339_opts(SecondsFormat::Micros, true));
        assert_eq!(format(&Timestamp::UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn formats_with_microseconds_and_z() {
        let t = parse("2024-01-01T00:00:00.5Z").unwrap();
        assert_eq!(format(&t), "2024-01-01T00:00:00.500000Z");
    }

    #[test]
    fn parses_naive_zulu_offset_and_space_forms() {
        let want = parse("2024-01-01T00:00:00Z").unwrap();
        assert_eq!(parse("2024-01-01T00:00:00"), Some(want));
        assert_eq!(parse("2024-01-01T02:00:00+02:00"), Some(want));
        assert_eq!(parse("2024-01-01 00:00:00.000"), Some(want));
        assert_eq!(parse("yesterday"), None);
        assert_eq!(parse("2024-13-01T00:00:00"), None);
    }

    #[test]
    fn next_after_strictly_increases() {
        let future = now() + TimeDelta::seconds(60);
        assert_eq!(next_after(Some(future)), future + TimeDelta::microseconds(1));
        let past = now() - TimeDelta::seconds(60);
        assert!(next_after(Some(past)) > past);
        assert_eq!(now().timestamp_subsec_nanos() % 1_000, 0);
    }
}
