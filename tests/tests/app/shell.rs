//! The window as a whole: panes, Stop, help, shortcuts, persisted layout, the wgpu snapshot.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use kinedesk::gui::settings::ThemeChoice;
use kinedesk::{AppOptions, Command, KineDeskApp, Pane};
use kinedesk_models::StopReason;
use kinedesk_tests::*;
use kinedesk_widgets::{LogLevel, STOP_BUTTON_LABEL};

#[test]
fn every_pane_and_the_stop_button_are_reachable_by_label() {
    let harness = app_harness();
    for pane in Pane::ALL {
        harness.get_by_label(pane.title());
    }
    harness.get_by_label(STOP_BUTTON_LABEL);
    // Honest empty states, not fake data.
    for placeholder in ["No camera connected", "No trajectory planned"] {
        harness.get_by_label(placeholder);
    }
    // The arm pane shows the robot model, and says that no robot is connected.
    harness.get_by_label_contains("No robot connected");
    harness.get_by_label(kinedesk_widgets::arm_view::ARM_VIEW_LABEL);
    // The status bar reports each connection.
    for status in
        ["Cameras: not connected", "Robot: not connected", "Policy: built-in planner", "Recorder: no session open"]
    {
        harness.get_by_label(status);
    }
}

#[test]
fn the_stop_key_emits_a_stop_command_and_trips_the_stop_signal() {
    let mut harness = app_harness();
    assert_eq!(harness.state().stop_signal().generation(), 0);
    harness.key_press(Key::Escape);
    harness.run();
    let app = harness.state();
    assert_eq!(app.command_history().back(), Some(&Command::Stop { reason: StopReason::Key }));
    assert_eq!(app.stop_signal().generation(), 1);
    let last = app.log_entries().back().expect("the stop is logged");
    assert_eq!(last.level, LogLevel::Warn);
    assert!(last.message.contains("STOP by Stop key"), "{}", last.message);
}

#[test]
fn clicking_stop_emits_a_stop_command() {
    let mut harness = app_harness();
    harness.get_by_label(STOP_BUTTON_LABEL).click();
    harness.run();
    assert_eq!(harness.state().command_history().back(), Some(&Command::Stop { reason: StopReason::Button }));
    assert_eq!(harness.state().stop_signal().generation(), 1);
}

#[test]
fn stop_works_while_typing_but_the_help_key_types_text() {
    let mut harness = app_harness();
    // With nothing focused, '?' opens the help…
    harness.key_press(Key::Questionmark);
    harness.run();
    assert!(harness.state().is_help_open());
    harness.key_press(Key::F1);
    harness.run();
    assert!(!harness.state().is_help_open());
    // …but typed into the log filter box it is just text.
    harness.get_by_label(Pane::Log.title()).click();
    harness.run();
    let filter = harness.get_by_label(kinedesk_widgets::LOG_FILTER_LABEL);
    filter.focus();
    filter.type_text("?");
    harness.key_press(Key::Questionmark);
    harness.run();
    assert!(!harness.state().is_help_open(), "'?' typed into a text box must not open the help");
    assert_eq!(harness.get_by_label(kinedesk_widgets::LOG_FILTER_LABEL).value().as_deref(), Some("?"));
    // Stop still works while the text box has focus.
    harness.key_press(Key::Escape);
    harness.run();
    assert_eq!(harness.state().command_history().back(), Some(&Command::Stop { reason: StopReason::Key }));
}

#[test]
fn f1_toggles_the_shortcut_help() {
    let mut harness = app_harness();
    assert!(harness.query_by_label("Keyboard shortcuts").is_none());
    harness.key_press(Key::F1);
    harness.run();
    assert!(harness.state().is_help_open());
    harness.get_by_label("Keyboard shortcuts");
    harness.get_by_label_contains("Stop all motion");
    harness.key_press(Key::F1);
    harness.run();
    assert!(!harness.state().is_help_open());
}

#[test]
fn alt_number_brings_a_pane_to_the_front() {
    let mut harness = app_harness();
    assert!(is_tab_selected(&harness, Pane::Session.title()));
    assert!(!is_tab_selected(&harness, Pane::Log.title()));
    harness.key_press_modifiers(Modifiers::ALT, Key::Num6);
    harness.run();
    assert_eq!(harness.state().command_history().back(), Some(&Command::ShowPane(Pane::Log)));
    assert!(is_tab_selected(&harness, Pane::Log.title()));
    // The log pane shows the start-up message.
    harness.get_by_label_contains("KineDesk 0.1.0 started");
}

#[test]
fn layout_and_theme_persist_between_runs() {
    let ctx = egui::Context::default();
    let mut first = KineDeskApp::from_parts(&ctx, None, None, no_cameras());
    first.handle_command(&ctx, Command::SetTheme(ThemeChoice::Light));
    first.handle_command(&ctx, Command::ShowPane(Pane::Log));
    let mut storage = MemoryStorage::default();
    eframe::App::save(&mut first, &mut storage);

    let second = KineDeskApp::from_parts(&ctx, Some(&storage), None, no_cameras());
    assert_eq!(second.theme(), ThemeChoice::Light);
    let log_tab = second.layout().tiles.find_pane(&Pane::Log).expect("log pane");
    assert!(second.layout().active_tiles().contains(&log_tab), "the log tab stays in front");

    let reset = KineDeskApp::from_parts(&ctx, Some(&storage), None, AppOptions { reset_layout: true, ..no_cameras() });
    let log_tab = reset.layout().tiles.find_pane(&Pane::Log).expect("log pane");
    assert!(!reset.layout().active_tiles().contains(&log_tab), "--reset-layout starts from the default");
}

#[test]
fn a_corrupt_saved_state_falls_back_to_defaults_and_says_so() {
    let mut storage = MemoryStorage::default();
    storage.values.insert("kinedesk.state".into(), "{ this is not json".into());
    let mut harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(|cc| KineDeskApp::from_parts(&cc.egui_ctx, Some(&storage), None, no_cameras()));
    harness.run();
    let warning = harness
        .state()
        .log_entries()
        .iter()
        .find(|entry| entry.level == LogLevel::Warn)
        .expect("a warning about the saved layout");
    assert!(warning.message.contains("could not be read"), "{}", warning.message);
    for pane in Pane::ALL {
        harness.get_by_label(pane.title());
    }
}

#[test]
fn the_whole_window_renders_on_wgpu() {
    let mut harness =
        Harness::builder().wgpu().with_size([1280.0, 800.0]).build_eframe(|cc| KineDeskApp::new(cc, no_cameras()));
    harness.run();
    // The frame-time readout changes from run to run; mask it out of the comparison.
    let frame_time = harness.get_by_label_contains("UI ").rect();
    harness.mask(frame_time);
    harness.snapshot("app_default_layout");
}

#[test]
fn the_help_stays_clear_of_stop_and_scrolls_in_a_short_window() {
    use kinedesk::gui::app::HELP_TITLE;
    use kinedesk_widgets::stop_button::STOP_BUTTON_LABEL;
    let options = no_cameras();
    let mut harness = egui_kittest::Harness::builder()
        .with_size([1280.0, 520.0])
        .build_eframe(|cc| kinedesk::KineDeskApp::new(cc, options));
    harness.run();
    harness.key_press(Key::F1);
    harness.run();
    let window = harness.get_by_label(HELP_TITLE).rect();
    let stop = harness.get_by_label(STOP_BUTTON_LABEL).rect();
    assert!(window.bottom() < stop.top(), "the help {window:?} covers Stop {stop:?}");
    // The last row is below the fold at first; scrolling brings it into the window.
    let last = "Teleop joint mode: choose the joint";
    assert!(harness.get_by_label(last).rect().top() > window.bottom(), "{window:?}");
    harness.get_by_label(last).scroll_to_me();
    harness.run();
    let row = harness.get_by_label(last).rect();
    let window = harness.get_by_label(HELP_TITLE).rect();
    assert!(window.contains_rect(row), "{row:?} not in {window:?}");
}

#[test]
fn named_layouts_put_the_session_first_for_annotating_and_back_for_operating() {
    use kinedesk::gui::app::LAYOUT_MENU_LABEL;
    let mut harness = app_harness();
    let area = |harness: &Harness<'_, KineDeskApp>, pane: Pane| harness.get_by_label(pane.title()).rect();
    harness.get_by_label("View").click();
    harness.run_steps(2);
    harness.get_by_label(LAYOUT_MENU_LABEL).hover();
    harness.run_steps(2);
    harness.get_by_label("Annotate (timeline first)").click();
    harness.run_steps(3);
    // The Session tab sits left, the cameras right of it.
    assert!(area(&harness, Pane::Session).left() < area(&harness, Pane::Cameras).left());
    assert!(logged(harness.state(), "Layout: Annotate"));
    harness.get_by_label("View").click();
    harness.run_steps(2);
    harness.get_by_label(LAYOUT_MENU_LABEL).hover();
    harness.run_steps(2);
    harness.get_by_label("Operate (plan, review, send)").click();
    harness.run_steps(3);
    assert!(area(&harness, Pane::Cameras).left() < area(&harness, Pane::Session).left());
}
