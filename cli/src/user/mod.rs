//! `durian user scram`: set, list and delete users' SCRAM credentials,
//! through the admin client. The password is salted and hashed before it
//! leaves the client (docs/ADMIN.md); without `--password` it is read
//! from the first line of stdin, so it need not appear in `ps`.

use std::io::BufRead;

use clap::{Args, Subcommand};
use durian::admin::{Admin, ScramMechanism, UserScramCredentialAlteration};

use crate::table::{print_stdout, Table};
use crate::topic::admin_client;
use crate::{CliError, GlobalOpts};

/// Options of `durian user`.
#[derive(Debug, Args)]
pub struct UserArgs {
    /// What to manage.
    #[command(subcommand)]
    pub action: UserAction,
}

/// The `durian user` subcommands.
#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Users' SCRAM credentials.
    Scram {
        /// What to do.
        #[command(subcommand)]
        action: ScramAction,
    },
}

/// The `durian user scram` subcommands.
#[derive(Debug, Subcommand)]
pub enum ScramAction {
    /// Set (or replace) a user's credential for one mechanism.
    Set {
        /// The user name (without `User:`).
        user: String,
        /// `SCRAM-SHA-256` or `SCRAM-SHA-512`.
        #[arg(short = 'm', long, default_value = "SCRAM-SHA-256", value_parser = parse_mechanism)]
        mechanism: ScramMechanism,
        /// PBKDF2 iterations (4096..=16384).
        #[arg(short = 'i', long, default_value_t = 8192)]
        iterations: u32,
        /// The password (default: the first line of stdin).
        #[arg(long)]
        password: Option<String>,
    },
    /// List users' credentials (all users, or those named).
    List {
        /// Users to show.
        users: Vec<String>,
    },
    /// Delete a user's credential for one mechanism.
    Delete {
        /// The user name.
        user: String,
        /// `SCRAM-SHA-256` or `SCRAM-SHA-512`.
        #[arg(short = 'm', long, value_parser = parse_mechanism)]
        mechanism: ScramMechanism,
    },
}

fn parse_mechanism(name: &str) -> Result<ScramMechanism, String> {
    ScramMechanism::from_name(name)
        .ok_or_else(|| format!("`{name}` is not SCRAM-SHA-256 or SCRAM-SHA-512"))
}

/// Runs `durian user`.
pub async fn run(args: UserArgs, global: &GlobalOpts) -> Result<(), CliError> {
    let admin = admin_client(global)?;
    let UserAction::Scram { action } = args.action;
    match action {
        ScramAction::Set {
            user,
            mechanism,
            iterations,
            password,
        } => {
            let password = match password {
                Some(password) => password,
                None => read_password()?,
            };
            let change = UserScramCredentialAlteration::upsert(
                user.clone(),
                mechanism,
                iterations,
                password,
            );
            alter(&admin, &user, change).await?;
            print_stdout(&format!(
                "set {} credential of `{user}` ({iterations} iterations)\n",
                mechanism.name()
            ))
        }
        ScramAction::List { users } => list(&admin, &users).await,
        ScramAction::Delete { user, mechanism } => {
            alter(
                &admin,
                &user,
                UserScramCredentialAlteration::delete(user.clone(), mechanism),
            )
            .await?;
            print_stdout(&format!(
                "deleted {} credential of `{user}`\n",
                mechanism.name()
            ))
        }
    }
}

fn read_password() -> Result<String, CliError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::new(format!("cannot read the password from stdin: {e}")))?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        return Err(CliError::new(
            "no password: give --password or one line on stdin",
        ));
    }
    Ok(password)
}

async fn alter(
    admin: &Admin,
    user: &str,
    change: UserScramCredentialAlteration,
) -> Result<(), CliError> {
    let results = admin
        .alter_user_scram_credentials(&[change])
        .await
        .map_err(|e| CliError::new(format!("cannot change the credentials of `{user}`: {e}")))?;
    match results.get(user) {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => Err(CliError::new(format!(
            "cannot change the credentials of `{user}`: {e}"
        ))),
        None => Err(CliError::new(format!(
            "the broker did not answer for `{user}`"
        ))),
    }
}

async fn list(admin: &Admin, users: &[String]) -> Result<(), CliError> {
    let names: Vec<&str> = users.iter().map(String::as_str).collect();
    let wanted = (!names.is_empty()).then_some(names.as_slice());
    let described = admin
        .describe_user_scram_credentials(wanted)
        .await
        .map_err(|e| CliError::new(format!("cannot list SCRAM credentials: {e}")))?;
    let mut table = Table::new(["USER", "MECHANISM", "ITERATIONS"]);
    let mut missing = Vec::new();
    for (user, result) in described {
        match result {
            Ok(infos) => {
                for info in infos {
                    table.row([
                        user.clone(),
                        info.mechanism.name().to_owned(),
                        info.iterations.to_string(),
                    ]);
                }
            }
            Err(e) => missing.push(format!("`{user}`: {e}")),
        }
    }
    table.print()?;
    if missing.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(missing.join("; ")))
    }
}
