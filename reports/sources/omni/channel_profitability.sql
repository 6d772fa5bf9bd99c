select * from channel_profitability
