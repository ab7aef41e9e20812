//! The conformance suite: one set of tests every [`Store`](ticketing_core::store::Store) backend
//! must pass, run here against memory, SQLite and Postgres, and shipped so a third-party backend
//! can run it too.
//!
//! ```ignore
//! // tests/conformance.rs of a backend crate, with `ticketing-storage = { features = ["testkit"] }`
//! fn backend() -> ticketing_storage::testkit::Backend {
//!     ticketing_storage::testkit::Backend::new("mine", |clock| async move {
//!         std::sync::Arc::new(MyStore::connect_fresh(clock).await) as std::sync::Arc<dyn ticketing_core::store::Store>
//!     })
//! }
//! // 40: how many random sequences the property test tries (fewer for slow backends).
//! ticketing_storage::conformance_suite!(backend, 40);
//! ```
//!
//! Each case takes a [`Backend`] that makes a fresh, empty store, builds a small world in it (one
//! published event, two ticket types, two gates, two agents) and drives it through the engine:
//! every scan reason, the lifecycle, sessions, nonces, magic links, catalogue invariants, locks,
//! the audit trail (each entry written with its change, or neither), users and the seeder, template versions and pins, the job queue and bulk generation (killed midway and resumed), selling (orders held, paid
//! once, expired and sold again, desk sales), notifications (each message sent once across attempts), concurrency storms, and a property over random sequences.

// Test code: a failed step should fail the case with its message.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

#[doc(hidden)]
pub mod catalog;
#[doc(hidden)]
pub mod concurrency;
#[doc(hidden)]
pub mod credentials;
mod invariants;
#[doc(hidden)]
pub mod jobs;
#[doc(hidden)]
pub mod locks_audit;
#[doc(hidden)]
pub mod notifications;
#[doc(hidden)]
pub mod reasons;
#[doc(hidden)]
pub mod selling;
pub mod servers;
mod support;
#[doc(hidden)]
pub mod templates;
#[doc(hidden)]
pub mod trail;
#[doc(hidden)]
pub mod users;

use std::future::Future;

pub use support::{Backend, ConfirmOrRefusal, Options, World};

/// Runs one case on a fresh multi-threaded runtime (the storms need real parallelism).
pub fn run<F: Future<Output = ()>>(case: F) {
    tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap().block_on(case);
}

/// Runs the property over `cases` random sequences (each on a fresh store).
pub fn random_sequences(backend: &Backend, cases: u32) {
    invariants::random_sequences_keep_the_rules(backend, cases);
}

/// Defines one `#[test]` per conformance case, each calling `$backend()` for a [`Backend`].
/// `$cases` is how many random sequences the property test tries (fewer for slow backends).
#[macro_export]
macro_rules! conformance_suite {
    ($backend:path, $cases:expr) => {
        $crate::conformance_suite!(@cases $backend;
        reasons::a_ticket_goes_issued_paid_inside_outside_inside,
        reasons::without_reentry_a_ticket_that_left_stays_out,
        reasons::usage_and_daily_limits,
        reasons::statuses_that_never_pass,
        reasons::bad_codes_are_refused_and_logged,
        reasons::gates_really_restrict,
        reasons::validity_windows_and_event_status,
        reasons::a_ticket_of_another_event_is_wrong_event_and_drafts_do_not_admit,
        reasons::doors_open_some_hours_before_the_start,
        reasons::sessions_are_single_use_short_lived_and_bound,
        reasons::rules_are_checked_again_at_confirm,
        reasons::a_repeated_nonce_returns_the_first_result_and_changes_nothing,
        reasons::a_nonce_reused_for_another_request_is_refused_not_replayed,
        reasons::magic_links_open_their_ticket_until_revoked_or_expired,
        reasons::refunding_or_invalidating_a_ticket_revokes_its_links,
        reasons::a_code_that_expires_between_request_and_confirm_is_refused,
        reasons::dashboard_counts_group_tickets_scans_and_flow,
        catalog::ticket_type_names_are_unique_per_event,
        catalog::the_event_capacity_caps_all_types_together,
        catalog::refunds_and_invalidations_free_their_place,
        catalog::limits_cannot_drop_below_live_tickets,
        catalog::closed_events_issue_nothing_and_status_moves_are_checked,
        catalog::invalid_holders_refuse_the_whole_batch,
        catalog::only_colliding_short_codes_are_drawn_again,
        catalog::events_are_listed_by_filters_and_deleted_only_without_tickets,
        concurrency::a_thousand_reservations_against_a_quota_of_a_hundred,
        concurrency::fifty_confirms_of_one_ticket_from_five_gates_enter_once,
        concurrency::the_same_session_confirmed_twenty_times_at_once_enters_once,
        concurrency::twenty_concurrent_creations_of_one_type_name_make_one_type,
        locks_audit::locks_have_owners_and_expire,
        locks_audit::key_fingerprints_keep_the_first_of_each_kind_and_id,
        locks_audit::audit_entries_are_listed_newest_first_and_by_event,
        locks_audit::fifty_audit_entries_appended_at_once_are_each_kept,
        trail::an_audit_entry_and_its_change_commit_or_roll_back_together,
        jobs::jobs_are_claimed_by_priority_then_due_time_then_age,
        jobs::a_claim_over_several_kinds_takes_the_most_urgent_due_job,
        jobs::a_lapsed_lease_passes_the_job_on_and_fences_the_old_worker,
        jobs::failed_attempts_back_off_then_fail_and_can_be_retried,
        jobs::a_released_job_is_queued_at_once_with_its_attempt_given_back,
        jobs::cancel_stops_queued_jobs_at_once_and_running_ones_at_their_next_report,
        jobs::jobs_are_written_with_the_tickets_that_cause_them_or_not_at_all,
        jobs::a_generation_runs_in_chunks_within_quota,
        jobs::concurrent_workers_claim_each_job_once,
        jobs::a_killed_generation_resumes_without_duplicates_or_gaps,
        jobs::a_generation_writes_holders_links_and_pins_with_each_chunk,
        jobs::a_batch_with_a_bad_pin_or_link_writes_nothing,
        jobs::purging_removes_only_jobs_that_ended_before_the_cutoff,
        jobs::heartbeats_keep_a_claimed_job,
        users::seeding_twice_changes_nothing,
        users::concurrent_seeders_make_one_superadmin,
        users::the_last_active_superadmin_stays_under_concurrent_demotions,
        users::user_emails_are_unique_case_insensitively_and_roles_must_exist,
        templates::template_versions_count_up_and_old_ones_stay_readable,
        templates::concurrent_saves_of_one_template_get_distinct_versions,
        templates::the_first_pin_wins_and_a_redownload_uses_it,
        templates::an_event_has_one_active_template_at_most,
        credentials::refresh_tokens_rotate_once_and_a_replay_revokes_the_family,
        credentials::revoking_tokens_clients_and_users,
        credentials::staff_scope_events_and_unused_types_and_gates_delete,
        credentials::users_change_and_list_in_pages,
        selling::an_order_holds_its_tickets_then_a_delivery_pays_them_once,
        selling::a_payment_that_is_not_the_orders_amount_leaves_it_unpaid,
        selling::holds_expire_and_their_places_sell_again_and_late_payments_are_kept,
        selling::placements_are_checked_and_an_idempotency_key_returns_the_same_order,
        selling::a_type_edited_while_it_sells_sells_on,
        selling::a_type_deleted_during_its_first_sales_never_deadlocks,
        selling::two_thousand_buyers_for_a_hundred_places,
        selling::twenty_deliveries_of_one_webhook_at_once_pay_once,
        selling::thirty_orders_paid_at_once_are_each_paid_once,
        selling::fifty_desk_sales_at_once_take_gap_free_receipts,
        selling::staff_mark_a_pending_order_paid,
        selling::revenue_follows_the_money,
        selling::a_payment_racing_the_end_of_its_hold_is_never_lost,
        selling::a_second_payment_and_a_provider_s_expiry_are_recorded_once_with_what_they_did,
        selling::refunds_free_places_record_the_money_and_ask_the_provider,
        selling::ten_refunds_of_one_order_at_once_give_the_money_back_once,
        notifications::a_payment_s_messages_are_each_sent_once_across_attempts,
        notifications::without_a_courier_messages_are_skipped_and_a_refusal_is_final,
        notifications::a_message_retried_past_the_last_attempt_is_dead,
        notifications::a_ticket_issued_to_a_reachable_holder_and_a_desk_sale_are_told,
        notifications::a_generation_tells_its_holders_and_a_holder_gets_their_tickets_again,
        notifications::an_event_s_own_message_templates_are_kept_per_kind_and_language,
        notifications::webhook_endpoints_get_signed_deliveries_and_are_disabled_once,
        );
        /// The acceptance crash test: 100,000 tickets, the worker killed midway, then resumed.
        #[test]
        fn a_hundred_thousand_ticket_generation_survives_a_killed_worker() {
            let backend = $backend();
            if !backend.skipped() {
                $crate::testkit::run(async {
                    $crate::testkit::jobs::generation_survives_a_killed_worker(&backend, 100_000, 1_000).await;
                    backend.finish().await;
                });
            }
        }
        #[test]
        fn random_sequences_keep_the_rules() {
            let backend = $backend();
            if !backend.skipped() {
                $crate::testkit::random_sequences(&backend, $cases);
            }
        }
    };
    (@cases $backend:path; $($module:ident :: $case:ident,)*) => {
        $(
            #[test]
            fn $case() {
                let backend = $backend();
                if !backend.skipped() {
                    $crate::testkit::run(async {
                        $crate::testkit::$module::$case(&backend).await;
                        backend.finish().await;
                    });
                }
            }
        )*
    };
}
