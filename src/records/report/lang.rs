//! The municipality's words: categories and column headings in Danish
//! (the default) or Norwegian bokmål.

use super::super::CallRecord;
use serde::Serialize;

/// A tenant's language for extracts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Danish.
    #[default]
    Da,
    /// Norwegian bokmål.
    Nb,
}

/// The category a call is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// No disposition yet (listed first so the centre can finish them).
    Open,
    /// nødkald: a real emergency.
    Emergency,
    /// tryghedskald: reassurance.
    Reassurance,
    /// fejlkald: a false alarm.
    FalseAlarm,
    /// genkald: a recall.
    Recall,
    /// teknisk: a technical matter, or an alarm no person needed (test, battery).
    Technical,
}

impl Category {
    /// Every category, in the order totals list them.
    pub const ALL: [Category; 6] = [
        Category::Emergency,
        Category::Reassurance,
        Category::FalseAlarm,
        Category::Recall,
        Category::Technical,
        Category::Open,
    ];

    /// The category of a call: its disposition; with none, `technical`
    /// when no person was needed (a periodic test or battery alarm the
    /// daemon settled), else `open`.
    pub fn of(r: &CallRecord) -> Category {
        match r.disposition.as_deref() {
            Some("emergency") => Category::Emergency,
            Some("reassurance") => Category::Reassurance,
            Some("false_alarm") => Category::FalseAlarm,
            Some("recall") => Category::Recall,
            Some("technical") => Category::Technical,
            _ if !r.needs_person() && r.class.as_deref() == Some("technical") => {
                Category::Technical
            }
            _ => Category::Open,
        }
    }

    /// Its name in `lang`.
    pub fn label(self, lang: Language) -> &'static str {
        use Category::*;
        match (lang, self) {
            (Language::Da, Open) => "uden disposition",
            (Language::Da, Emergency) => "nødkald",
            (Language::Da, Reassurance) => "tryghedskald",
            (Language::Da, FalseAlarm) => "fejlkald",
            (Language::Da, Recall) => "genkald",
            (Language::Da, Technical) => "teknisk",
            (Language::Nb, Open) => "uten disposisjon",
            (Language::Nb, Emergency) => "nødanrop",
            (Language::Nb, Reassurance) => "trygghetsanrop",
            (Language::Nb, FalseAlarm) => "feilanrop",
            (Language::Nb, Recall) => "tilbakeringing",
            (Language::Nb, Technical) => "teknisk",
        }
    }
}

/// Columns of the call list.
pub const COLUMNS: usize = 26;

/// Column headings of the call list, in the order [`super::csv`] writes them.
pub fn headings(lang: Language) -> [&'static str; COLUMNS] {
    match lang {
        Language::Da => [
            "Opkalds-id",
            "Kategori",
            "Modtaget",
            "Besvaret",
            "Afsluttet",
            "Ventetid (s)",
            "Samtaletid (s)",
            "Kaldende nummer",
            "Konto",
            "Protokol",
            "Klasse",
            "Hændelser",
            "Operatør",
            "Kø",
            "Overløb",
            "Viderestillet til",
            "Afslutning",
            "Disposition",
            "Note",
            "Disposition af",
            "Genkald af",
            "Genkaldt af",
            "Optagelse",
            "Optagelse SHA-256",
            "Optagelse varighed (s)",
            "Tilbagekald",
        ],
        Language::Nb => [
            "Anrops-id",
            "Kategori",
            "Mottatt",
            "Besvart",
            "Avsluttet",
            "Ventetid (s)",
            "Samtaletid (s)",
            "Innringer",
            "Konto",
            "Protokoll",
            "Klasse",
            "Hendelser",
            "Operatør",
            "Kø",
            "Overløp",
            "Viderekoblet til",
            "Avslutning",
            "Disposisjon",
            "Notat",
            "Disposisjon av",
            "Tilbakeringing av",
            "Tilbakeringt av",
            "Opptak",
            "Opptak SHA-256",
            "Opptakets varighet (s)",
            "Tilbakeringingsliste",
        ],
    }
}

/// Headings of the totals sheet: category, day, hour, calls, percentile, seconds, caller.
pub fn totals_words(lang: Language) -> [&'static str; 8] {
    match lang {
        Language::Da => [
            "Kategori",
            "Dato",
            "Time",
            "Opkald",
            "Svartid",
            "Sekunder",
            "Hyppigste opkaldere",
            "I alt",
        ],
        Language::Nb => [
            "Kategori",
            "Dato",
            "Time",
            "Anrop",
            "Svartid",
            "Sekunder",
            "Hyppigste innringere",
            "Totalt",
        ],
    }
}
