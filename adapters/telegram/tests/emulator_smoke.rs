//! End to end against a third-party Bot API implementation, the npm `telegram-test-api`
//! emulator: long polling picks up a user's message and the echo reply reaches the user.
//!
//! Needs `node` and `npm` (the package is installed once into `~/.cache/frontdesk`).

mod common;

use std::time::Duration;

use common::{echo, TOKEN};
use frontdesk_fakes::telegram::emulator::{EmulatorUser, TelegramEmulator};
use frontdesk_telegram::{TelegramAdapter, TelegramConfig};

#[tokio::test]
async fn echo_over_long_polling_reaches_the_user() {
    let emulator = TelegramEmulator::start(TOKEN)
        .await
        .unwrap_or_else(|e| panic!("{e} (needs node and npm)"));
    let config = TelegramConfig::new(TOKEN).with_api_url(emulator.api_url());
    let adapter = TelegramAdapter::connect(config).await.unwrap();
    assert_eq!(adapter.bot_username(), Some("TestNameBot"));
    let (handler, mut results) = echo();
    let polling = tokio::spawn(adapter.run_polling(handler));

    let user = EmulatorUser::private(4242, "Asha");
    emulator
        .send_user_message(&user, "Class at 9.00 (mat!)?")
        .await
        .unwrap();
    let replies = emulator
        .wait_bot_messages(user.chat_id, 1, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(replies.len(), 1, "{replies:?}");
    let reply = &replies[0];
    assert_eq!(reply["chat_id"].to_string().trim_matches('"'), "4242");
    assert_eq!(reply["parse_mode"], "MarkdownV2");
    assert_eq!(reply["text"], r"echo: Class at 9\.00 \(mat\!\)?");
    // The echo answers the user's message.
    assert!(
        reply["reply_parameters"]["message_id"].as_i64().is_some(),
        "{reply}"
    );
    let sent = tokio::time::timeout(Duration::from_secs(10), results.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sent, Ok(()));

    // The emulator ignores `offset`; the message is still handled once.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(emulator
        .bot_messages(user.chat_id)
        .await
        .unwrap()
        .is_empty());
    polling.abort();
}
