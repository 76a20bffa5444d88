//! OpenID Connect sign-in (issue 19): `oidc_login`, the sign-ins started at the provider and not
//! yet back (state kept as a hash, nonce and PKCE verifier, short-lived, taken once), shared by
//! every `serve` instance behind a proxy; and `account.oidc_subject`, the provider's `sub` of
//! an account created by OpenID Connect sign-in (unique; empty for local accounts).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OidcLogin::Table)
                    .col(big_pk_auto(OidcLogin::Id))
                    .col(string_uniq(OidcLogin::StateHash))
                    .col(string(OidcLogin::Nonce))
                    .col(string(OidcLogin::PkceVerifier))
                    .col(string(OidcLogin::NextPath))
                    .col(timestamp_with_time_zone(OidcLogin::CreatedAt))
                    .col(timestamp_with_time_zone(OidcLogin::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_oidc_login_expires_at")
                    .table(OidcLogin::Table)
                    .col(OidcLogin::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Account::Table)
                    .add_column(string_null(Account::OidcSubject))
                    .to_owned(),
            )
            .await?;
        // A separate index: SQLite cannot add a UNIQUE column with ALTER TABLE.
        manager
            .create_index(
                Index::create()
                    .name("idx_account_oidc_subject")
                    .table(Account::Table)
                    .col(Account::OidcSubject)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_account_oidc_subject")
                    .table(Account::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Account::Table)
                    .drop_column(Account::OidcSubject)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(OidcLogin::Table).to_owned())
            .await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
enum OidcLogin {
    Table,
    Id,
    StateHash,
    Nonce,
    PkceVerifier,
    NextPath,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Account {
    Table,
    OidcSubject,
}
