// zoo/alphazero games: Connect Four and tic-tac-toe rules on bitboards (wins in every direction,
// draws, illegal moves), the network planes and the mirror symmetry.
#include <gtest/gtest.h>

#include "tests/common/expect_close.h"
#include "zoo/alphazero/game.h"

namespace ember::zoo::alphazero {
namespace {
using test::throws_with;

State c4(const std::string& moves) { return State::from_moves(GameKind::connect4, moves); }
State ttt(const std::string& moves) { return State::from_moves(GameKind::tictactoe, moves); }

TEST(AlphaZeroGames, Connect4WinsInEveryDirection) {
  // Vertical: X stacks column 1 (O plays column 2 between).
  State v = c4("121212");
  EXPECT_FALSE(v.is_terminal());
  EXPECT_TRUE(v.wins_with(0));
  v.play(0);
  EXPECT_TRUE(v.last_move_won());
  EXPECT_TRUE(v.is_terminal());
  EXPECT_EQ(v.terminal_value(), -1);  // the side to move (O) lost
  // Horizontal along the bottom row: X 1 2 3 4, O on top of them.
  State h = c4("1122334");
  EXPECT_TRUE(h.last_move_won());
  // Not four: three in a row and a gap.
  EXPECT_FALSE(c4("112235").last_move_won());
  // Rising diagonal (bottom-left to top-right): X at (c1,r1) (c2,r2) (c3,r3) (c4,r4).
  State d1 = c4("1223343447");
  EXPECT_FALSE(d1.last_move_won());
  d1.play(3);  // X completes c4 row 4
  EXPECT_TRUE(d1.last_move_won());
  // Falling diagonal: the mirror image of the same game.
  State d2 = c4("7665545441");
  d2.play(3);
  EXPECT_TRUE(d2.last_move_won());
  // No wrap-around between columns: X at the top three cells of column 1 and the bottom of column 2.
  State wrap = c4("7171611716152");
  EXPECT_EQ(wrap.stone_at(0, 0), 1);
  EXPECT_EQ(wrap.stone_at(5, 1), 1);
  EXPECT_FALSE(wrap.last_move_won()) << wrap.to_string();
}

TEST(AlphaZeroGames, Connect4DrawAndFullColumns) {
  // A full board without four in a row (a random game, checked by an independent Python script).
  const std::string draw = "547125662261271266215743771576315353334444";
  State s(GameKind::connect4);
  for (char ch : draw) {
    ASSERT_FALSE(s.is_terminal()) << s.to_string();
    s.play(ch - '1');
  }
  EXPECT_EQ(s.num_moves(), 42);
  EXPECT_TRUE(s.is_terminal());
  EXPECT_FALSE(s.last_move_won()) << s.to_string();
  EXPECT_EQ(s.terminal_value(), 0);
  EXPECT_EQ(s.legal_mask(), 0u);
  State full = c4("111111");
  EXPECT_FALSE(full.is_legal(0));
  EXPECT_TRUE(throws_with([&] { full.play(0); }, {"play: illegal move 1", "column is full"}));
  EXPECT_TRUE(throws_with([&] { full.play(7); }, {"play: illegal move 8", "1..7"}));
  EXPECT_TRUE(throws_with([] { c4("12x"); }, {"play: bad move 'x'"}));
  State won = c4("1212121");
  EXPECT_TRUE(throws_with([&] { won.play(3); }, {"already over"}));
}

TEST(AlphaZeroGames, TicTacToeLinesAndDraw) {
  for (const char* line : {"14253", "41526", "12457", "31629", "12539", "32547"}) {  // rows, column, diagonals
    State s = ttt(line);
    EXPECT_TRUE(s.last_move_won()) << line << "\n" << s.to_string();
  }
  State d = ttt("159287364");  // X 1 9 8 3 4, O 5 2 7 6: no line
  EXPECT_EQ(d.num_moves(), 9);
  EXPECT_FALSE(d.last_move_won()) << d.to_string();
  EXPECT_TRUE(d.is_terminal());
  EXPECT_TRUE(throws_with([] { ttt("11"); }, {"play: illegal move 1", "cell is full"}));
}

TEST(AlphaZeroGames, PlanesAndMirror) {
  State s = c4("4");  // X in the bottom of the centre column; O to move
  std::vector<float> p(3 * 42);
  s.write_planes(p.data());
  // Own (O) plane empty, opponent plane has row 5 (bottom), column 3; side plane zeros (second player).
  float own = 0, opp = 0, side = 0;
  for (int i = 0; i < 42; ++i) own += p[i], opp += p[42 + i], side += p[84 + i];
  EXPECT_EQ(own, 0);
  EXPECT_EQ(opp, 1);
  EXPECT_EQ(p[42 + 5 * 7 + 3], 1);
  EXPECT_EQ(side, 0);
  State t = c4("1");
  EXPECT_EQ(t.stone_at(5, 0), 1);
  State m = t.mirrored();
  EXPECT_EQ(m.stone_at(5, 6), 1);
  EXPECT_EQ(m.key(), c4("7").key());
  EXPECT_EQ(t.mirror_action(0), 6);
  EXPECT_EQ(ttt("").mirror_action(0), 2);
  EXPECT_EQ(ttt("1").mirrored().key(), ttt("3").key());
}

}  // namespace
}  // namespace ember::zoo::alphazero
