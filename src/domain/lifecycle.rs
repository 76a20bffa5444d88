//! The one state machine of a campaign:
//! `scheduled → launching → active → closing → remediating → completed`, and `cancelled` from
//! any state before `completed`.

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CampaignState {
    Scheduled,
    Launching,
    Active,
    Closing,
    Remediating,
    Completed,
    Cancelled,
}

string_enum!(CampaignState, "campaign state", {
    Scheduled => "scheduled",
    Launching => "launching",
    Active => "active",
    Closing => "closing",
    Remediating => "remediating",
    Completed => "completed",
    Cancelled => "cancelled",
});

impl CampaignState {
    /// Whether a campaign may move from `self` to `to`.
    pub fn may_become(self, to: CampaignState) -> bool {
        use CampaignState::*;
        match (self, to) {
            (Scheduled, Launching)
            | (Launching, Active)
            | (Active, Closing)
            | (Closing, Remediating) => true,
            (Remediating, Completed) => true,
            (Scheduled | Launching | Active | Closing | Remediating, Cancelled) => true,
            (Scheduled | Launching | Active | Closing | Remediating | Completed | Cancelled, _) => {
                false
            }
        }
    }

    /// Reviewers may still decide.
    pub fn accepts_decisions(self) -> bool {
        self == CampaignState::Active
    }

    /// Nothing more will happen to the campaign.
    pub fn is_final(self) -> bool {
        matches!(self, CampaignState::Completed | CampaignState::Cancelled)
    }
}

#[cfg(test)]
mod tests {
    use super::CampaignState::*;

    #[test]
    fn the_happy_path_and_cancellation() {
        let path = [
            Scheduled,
            Launching,
            Active,
            Closing,
            Remediating,
            Completed,
        ];
        for pair in path.windows(2) {
            assert!(pair[0].may_become(pair[1]), "{:?}", pair);
        }
        assert!(Active.may_become(Cancelled));
        assert!(!Completed.may_become(Cancelled));
        assert!(!Active.may_become(Launching));
        assert!(!Cancelled.may_become(Active));
    }
}
