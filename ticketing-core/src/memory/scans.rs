//! Scan sessions and the scan log in memory.

use async_trait::async_trait;

use super::MemoryStore;
use crate::ids::UserId;
use crate::magic_link::TokenHash;
use crate::scan::{Nonce, ScanLog, ScanSession, ScanStage};
use crate::store::{CommitOutcome, ScanCommit, ScanLogFilter, ScanReads, ScanRepository, StoreError};

/// Reads under one lock are already as cheap as they get: the defaults.
impl ScanReads for MemoryStore {}

#[async_trait]
impl ScanRepository for MemoryStore {
    async fn insert_session(&self, session: &ScanSession) -> Result<(), StoreError> {
        let mut s = self.state();
        if s.sessions.contains_key(&session.token_hash) {
            return Err(StoreError::Conflict("scan session token".into()));
        }
        s.sessions.insert(session.token_hash, session.clone());
        Ok(())
    }

    async fn session(&self, token_hash: &TokenHash) -> Result<Option<ScanSession>, StoreError> {
        Ok(self.state().sessions.get(token_hash).cloned())
    }

    async fn commit_scan(&self, commit: &ScanCommit) -> Result<CommitOutcome, StoreError> {
        let mut s = self.state();
        let log = &commit.log;
        if let Some(nonce) = &log.nonce
            && let Some(&i) = s.nonces.get(&(log.agent_id, nonce.clone()))
        {
            return Ok(CommitOutcome::Replayed(Box::new(s.scan_logs[i].clone())));
        }
        match s.sessions.get(&commit.session) {
            None => return Ok(CommitOutcome::SessionExpired),
            Some(session) if session.used_at.is_some() => return Ok(CommitOutcome::SessionUsed),
            Some(session) if log.at >= session.expires_at => return Ok(CommitOutcome::SessionExpired),
            Some(_) => {}
        }
        if let Some(update) = &commit.ticket {
            match s.replace_ticket(&update.next, update.expected_version) {
                Ok(()) => {}
                Err(StoreError::Stale) => return Ok(CommitOutcome::TicketChanged),
                Err(e) => return Err(e),
            }
        }
        if let Some(session) = s.sessions.get_mut(&commit.session) {
            session.used_at = Some(log.at);
        }
        push_log(&mut s, log);
        Ok(CommitOutcome::Applied)
    }

    async fn insert_scan_log(&self, log: &ScanLog) -> Result<(), StoreError> {
        let mut s = self.state();
        if let Some(nonce) = &log.nonce
            && s.nonces.contains_key(&(log.agent_id, nonce.clone()))
        {
            return Err(StoreError::Conflict("scan nonce".into()));
        }
        push_log(&mut s, log);
        Ok(())
    }

    async fn scan_by_nonce(&self, agent: UserId, nonce: &Nonce) -> Result<Option<ScanLog>, StoreError> {
        let s = self.state();
        Ok(s.nonces.get(&(agent, nonce.clone())).map(|&i| s.scan_logs[i].clone()))
    }

    async fn scan_logs(&self, filter: &ScanLogFilter) -> Result<Vec<ScanLog>, StoreError> {
        let s = self.state();
        let limit = if filter.limit == 0 { usize::MAX } else { filter.limit as usize };
        Ok(s.scan_logs
            .iter()
            .rev()
            .filter(|l| filter.event_id.is_none_or(|e| l.event_id == e))
            .filter(|l| filter.gate_ids.as_ref().is_none_or(|g| g.contains(&l.gate_id)))
            .filter(|l| filter.ticket_id.is_none_or(|t| l.ticket_id == Some(t)))
            .take(limit)
            .cloned()
            .collect())
    }
}

fn push_log(s: &mut super::State, log: &ScanLog) {
    if let (Some(nonce), ScanStage::Confirm) = (&log.nonce, log.stage) {
        s.nonces.insert((log.agent_id, nonce.clone()), s.scan_logs.len());
    }
    s.scan_logs.push(log.clone());
}
