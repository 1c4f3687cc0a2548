//! The console conversation of `frontdesk chat` and the demo: `/agent`, `/as`, `/quit`.

use super::prelude::*;

pub async fn chat(
    agents: &Agents,
    store: &frontdesk::store::Store,
    mut agent: AgentKind,
    mut who: Option<String>,
) -> Result<()> {
    println!(
        "commands: /agent support|dashboard, /as client:EMAIL|guest|staff|manager|admin, /quit"
    );
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let session = uuid::Uuid::new_v4().simple().to_string();
    loop {
        let who_label = who.clone().unwrap_or_else(|| match agent {
            AgentKind::Support => "staff".into(),
            AgentKind::Dashboard => "manager".into(),
        });
        eprint!("{} ({who_label})> ", agent.as_str());
        let Some(line) = lines.next_line().await? else {
            break;
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line == "/quit" || line == "/exit" {
            break;
        }
        if let Some(rest) = line.strip_prefix("/agent") {
            match rest.trim().parse::<AgentKind>() {
                Ok(a) => agent = a,
                Err(e) => println!("{e}"),
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("/as") {
            match resolve_caller(store, Some(rest.trim()), agent).await {
                Ok(_) => who = Some(rest.trim().to_owned()),
                Err(e) => println!("{e}"),
            }
            continue;
        }
        let caller = match resolve_caller(store, who.as_deref(), agent).await {
            Ok(c) => c,
            Err(e) => {
                println!("{e}");
                continue;
            }
        };
        let reply = agents
            .handle(AgentRequest {
                agent,
                caller: caller.with_account(frontdesk::domain::Account::new("console", &who_label)),
                text: line.to_owned(),
                conversation: Some(frontdesk::agents::ConversationKey {
                    platform: frontdesk_chat::Platform::Console,
                    channel: session.to_string(),
                    thread: Some(agent.as_str().to_owned()),
                    user: who_label.to_string(),
                }),
                event_id: Some(format!("console:{}", uuid::Uuid::new_v4().simple())),
            })
            .await;
        println!("{}\n", reply.answer);
    }
    Ok(())
}
